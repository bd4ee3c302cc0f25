-- Each commit as it is now: the latest of its change rows (by changed_at, then exported_at), so that the rows a
-- crashed or repeated export added are never seen twice. Trunk history is `removed_at IS NULL`.
CREATE OR REPLACE VIEW current_commits AS
SELECT *
FROM (
    SELECT
        c.*,
        row_number() OVER (
            PARTITION BY connection_id, project_id, sha
            ORDER BY changed_at DESC, exported_at DESC
        ) AS change_rank
    FROM commits AS c
) AS ranked
WHERE change_rank = 1
