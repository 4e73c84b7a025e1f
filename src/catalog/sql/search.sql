-- One page of a search, in one round trip: the spelling of the words, the
-- full-text query made of them, and both relevance tiers (all the words in
-- the name, then anywhere), newest (highest id) first within each.
--   $1 the words (text[], letters and digits only, in the order typed)
--   $2 names' tier from below this id; 0 skips it (the page is past it)
--   $3 the other tier from below this id
--   $4 rows wanted (a page and one more, which says there is a next page)
-- Rows: the words of names looked for in place of words in none, and the
-- products found with their tier (2 name, 1 elsewhere); one row with no
-- product when nothing matched.
--
-- Prepared once per connection, its plan cannot see the words (they become
-- a query inside the statement), so each tier is read in a way that is
-- cheap whatever they match: first the newest 1,000 products on sale are
-- walked until the page is full (a common word fills it after a few rows),
-- and only when that falls short are the matches read from the GIN index
-- and sorted; a word that falls short there matches fewer than about
-- $4 in 1,000 products, so that read is bounded too (some 2,500 rows at
-- 100,000 products).
WITH spelled AS (
    SELECT w.word, w.i,
           -- The last word is being typed: also a prefix, unless a whole word.
           w.i = cardinality($1::text[]) AND length(w.word) > 1 AS typing,
           EXISTS (SELECT 1 FROM search_terms t WHERE t.term = w.word) AS whole
    FROM unnest($1::text[]) WITH ORDINALITY AS w(word, i)
), terms AS (
    SELECT s.i, s.word, s.typing AND NOT s.whole AS prefix,
           CASE
               WHEN s.whole THEN '{}'::text[]
               WHEN s.typing AND EXISTS (SELECT 1 FROM search_terms t WHERE t.term ^@ s.word)
                   THEN '{}'::text[]
               -- In no name (a typo): up to three close words of names. They
               -- are letters and digits (the trigger splits names on anything
               -- else), checked again as they go into a query.
               ELSE ARRAY(SELECT t.term FROM search_terms t
                          WHERE t.term % s.word AND t.term <> s.word
                            AND similarity(t.term, s.word) >= 0.4
                            AND t.term !~ '[^[:alnum:]]'
                          ORDER BY similarity(t.term, s.word) DESC, t.term
                          LIMIT 3)
           END AS alternatives
    FROM spelled s
), query AS (
    -- Every word required, each a quoted lexeme or one of its alternatives;
    -- `named` only in names (weight A). A whole word is looked for as itself:
    -- also as a prefix it would match more than asked.
    SELECT to_tsquery('simple', string_agg(
               '(''' || t.word || ''':' || CASE WHEN t.prefix THEN '*' ELSE '' END || 'A'
               || (SELECT coalesce(string_agg(' | ''' || a || ''':A', ''), '') FROM unnest(t.alternatives) a)
               || ')', ' & ' ORDER BY t.i)) AS named,
           to_tsquery('simple', string_agg(
               '(''' || t.word || '''' || CASE WHEN t.prefix THEN ':*' ELSE '' END
               || (SELECT coalesce(string_agg(' | ''' || a || '''', ''), '') FROM unnest(t.alternatives) a)
               || ')', ' & ' ORDER BY t.i)) AS anywhere,
           ARRAY(SELECT a FROM terms u, unnest(u.alternatives) WITH ORDINALITY AS x(a, n)
                 ORDER BY u.i, x.n) AS corrections
    FROM terms t
), named_recent AS (
    SELECT r.id FROM (
        SELECT p.id, p.search FROM products p
        WHERE p.active AND p.id < $2
        ORDER BY p.id DESC LIMIT 1000
    ) r
    WHERE r.search @@ (SELECT named FROM query)
    LIMIT $4
), named_all AS MATERIALIZED (
    -- Through the index of names' words (weights are not in the index of
    -- `search`: there a word common in descriptions would be read everywhere).
    SELECT p.id FROM products p
    WHERE p.active AND to_tsvector('simple', p.name) @@ (SELECT anywhere FROM query)
      AND $2 > 0 AND (SELECT count(*) FROM named_recent) < $4
), named AS (
    SELECT id FROM named_recent WHERE (SELECT count(*) FROM named_recent) >= $4
    UNION ALL
    (SELECT id FROM named_all WHERE id < $2 ORDER BY id DESC LIMIT $4)
), other_recent AS (
    SELECT r.id FROM (
        SELECT p.id, p.search FROM products p
        WHERE p.active AND p.id < $3 AND (SELECT count(*) FROM named) < $4
        ORDER BY p.id DESC LIMIT 1000
    ) r
    WHERE r.search @@ (SELECT anywhere FROM query) AND NOT r.search @@ (SELECT named FROM query)
    LIMIT $4
), other_all AS MATERIALIZED (
    SELECT p.id FROM products p
    WHERE p.active
      AND p.search @@ (SELECT anywhere FROM query) AND NOT p.search @@ (SELECT named FROM query)
      AND (SELECT count(*) FROM named) < $4 AND (SELECT count(*) FROM other_recent) < $4
), other AS (
    SELECT id FROM other_recent WHERE (SELECT count(*) FROM other_recent) >= $4
    UNION ALL
    (SELECT id FROM other_all WHERE id < $3 ORDER BY id DESC LIMIT $4)
), hits AS (
    SELECT 2::smallint AS tier, id FROM named
    UNION ALL
    SELECT 1::smallint, id FROM other
)
SELECT q.corrections, h.tier,
       p.id, p.slug, p.name, p.description, p.price_minor, p.currency, p.image_path,
       p.stock, p.active, p.created_at, p.requires_shipping
FROM query q
LEFT JOIN (hits h JOIN products p ON p.id = h.id) ON true
ORDER BY h.tier DESC, h.id DESC
LIMIT $4
