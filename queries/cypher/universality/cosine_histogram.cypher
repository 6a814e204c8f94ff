// universality.cosine_histogram: decoder-cosine histogram of the matches from SAE A to SAE B, bins of width 0.1.
// @param saeA str  the source SAE
// @param saeB str  the target SAE
// @returns binStart, nMatches
MATCH (:Feature)-[m:MATCHES]->(:Feature)
WHERE m.sourceSae = $saeA AND m.targetSae = $saeB
RETURN floor(m.cosine * 10.0) / 10.0 AS binStart, count(*) AS nMatches
ORDER BY binStart
