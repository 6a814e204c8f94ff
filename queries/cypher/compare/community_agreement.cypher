// compare.community_agreement: contingency table of community ids across MATCHES from SAE A to SAE B.
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  which graph's communities
// @param saeA str  the source SAE
// @param saeB str  the target SAE
// @returns communityA, communityB, nMatches
MATCH (a:Feature)-[:MATCHES]->(b:Feature)
WHERE a.saeId = $saeA AND b.saeId = $saeB
  AND a.community{{relSuffix}} IS NOT NULL AND b.community{{relSuffix}} IS NOT NULL
RETURN a.community{{relSuffix}} AS communityA, b.community{{relSuffix}} AS communityB, count(*) AS nMatches
ORDER BY communityA, communityB
