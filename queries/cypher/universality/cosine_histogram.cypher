// universality.cosine_histogram: decoder-cosine histogram of the matches from SAE A to SAE B, bins of width 0.1.
// @param saeA str  the source SAE
// @param saeB str  the target SAE
// @param runId str = null  only matches of this run (null: saeA's current run)
// @returns binStart, nMatches
MATCH (sa:SAE {saeId: $saeA})
MATCH (:Feature)-[m:MATCHES]->(:Feature)
WHERE m.sourceSae = $saeA AND m.targetSae = $saeB AND m.runId = coalesce($runId, sa.runId)
RETURN floor(m.cosine * 10.0) / 10.0 AS binStart, count(*) AS nMatches
ORDER BY binStart
