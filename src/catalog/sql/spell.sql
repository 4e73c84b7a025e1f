-- For each search word ($1, in order): whether it is a whole word of some
-- product's name, whether it begins one, and up to three close words of
-- product names by trigram similarity.
SELECT w.word,
       EXISTS (SELECT 1 FROM search_terms t WHERE t.term = w.word) AS whole,
       EXISTS (SELECT 1 FROM search_terms t WHERE t.term ^@ w.word) AS begins,
       ARRAY(SELECT t.term FROM search_terms t
             WHERE t.term % w.word AND t.term <> w.word AND similarity(t.term, w.word) >= 0.4
             ORDER BY similarity(t.term, w.word) DESC, t.term
             LIMIT 3) AS alternatives
FROM unnest($1::text[]) WITH ORDINALITY AS w(word, i)
ORDER BY w.i
