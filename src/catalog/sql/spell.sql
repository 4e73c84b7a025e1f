-- For each search word ($1, in order; $2 is the count, so the last is the
-- word being typed): whether a product name has it (or, for the last,
-- a word it begins), and up to three close words of product names by
-- trigram similarity. The words hold only letters and digits, so `||
-- '%'` makes a plain prefix pattern.
SELECT w.word,
       EXISTS (SELECT 1 FROM search_terms t
               WHERE t.term = w.word OR (w.i = $2 AND t.term LIKE w.word || '%')) AS known,
       ARRAY(SELECT t.term FROM search_terms t
             WHERE t.term % w.word AND t.term <> w.word AND similarity(t.term, w.word) >= 0.4
             ORDER BY similarity(t.term, w.word) DESC, t.term
             LIMIT 3) AS alternatives
FROM unnest($1::text[]) WITH ORDINALITY AS w(word, i)
ORDER BY w.i
