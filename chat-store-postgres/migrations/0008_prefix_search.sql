-- Prefix search (chat_core::search): the last word of a query may be the start of a word.
-- Each live message keeps the prefixes of its tokens, 3 to 16 characters long, beside its
-- tokens, under a GIN index of their own.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS prefixes text[] NOT NULL DEFAULT '{}';

-- The same prefixes chat_core::search::prefixes computes, for messages stored before.
UPDATE messages SET prefixes = coalesce(
    (SELECT array_agg(DISTINCT left(t, n))
     FROM unnest(tokens) AS t, generate_series(3, least(length(t), 16)) AS n),
    '{}')
WHERE NOT is_deleted AND prefixes = '{}' AND tokens <> '{}';

CREATE INDEX IF NOT EXISTS messages_prefixes ON messages USING gin (prefixes) WHERE NOT is_deleted;
