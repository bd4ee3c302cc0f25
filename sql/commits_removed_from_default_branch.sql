-- Commits that left their project's default branch (a force-push, another default branch), newest removal first.
SELECT
    connection_id,
    project_id,
    project_path,
    sha,
    title,
    author_email,
    committed_at,
    removed_at
FROM current_commits
WHERE removed_at IS NOT NULL
ORDER BY removed_at DESC, connection_id, project_id, sha
