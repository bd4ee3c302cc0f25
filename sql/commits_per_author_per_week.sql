-- Commits on the default branches per author and week (Monday, UTC) across every connection and project; a
-- commit that is in several projects (a fork, a mirror) counts once.
SELECT
    CAST(date_trunc('week', committed_at) AS date) AS week,
    author_email,
    max(author_name) AS author_name,
    count(DISTINCT sha) AS commits
FROM current_commits
WHERE removed_at IS NULL
GROUP BY CAST(date_trunc('week', committed_at) AS date), author_email
ORDER BY week, author_email
