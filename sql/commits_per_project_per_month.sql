-- Commits on each project's default branch per month (UTC).
SELECT
    connection_id,
    project_id,
    max(project_path) AS project_path,
    CAST(date_trunc('month', committed_at) AS date) AS month,
    count(*) AS commits
FROM current_commits
WHERE removed_at IS NULL
GROUP BY connection_id, project_id, CAST(date_trunc('month', committed_at) AS date)
ORDER BY connection_id, project_id, month
