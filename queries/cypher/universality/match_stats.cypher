// universality.match_stats: per SAE pair and matching method, number of matches, mutual ones, mean cosine and activation correlation.
// @returns sourceSae, targetSae, method, nMatches, nMutual, meanCosine, meanActCorr
MATCH (:Feature)-[m:MATCHES]->(:Feature)
RETURN m.sourceSae AS sourceSae, m.targetSae AS targetSae, m.method AS method, count(m) AS nMatches,
       sum(CASE WHEN m.mutual THEN 1 ELSE 0 END) AS nMutual, avg(m.cosine) AS meanCosine,
       avg(m.actCorr) AS meanActCorr
ORDER BY sourceSae, targetSae, method
