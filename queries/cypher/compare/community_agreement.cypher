// compare.community_agreement: contingency table of community ids across MATCHES from SAE A to SAE B.
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  which graph's communities
// @param saeA str  the source SAE
// @param saeB str  the target SAE
// @param runId str = null  only matches of this run (null: saeA's current run)
// @returns communityA, communityB, nMatches
MATCH (sa:SAE {saeId: $saeA})
MATCH (a:Feature)-[m:MATCHES]->(b:Feature)
WHERE a.saeId = $saeA AND b.saeId = $saeB AND m.runId = coalesce($runId, sa.runId)
  AND a.community{{relSuffix}} IS NOT NULL AND b.community{{relSuffix}} IS NOT NULL
RETURN a.community{{relSuffix}} AS communityA, b.community{{relSuffix}} AS communityB, count(*) AS nMatches
ORDER BY communityA, communityB
