#compdef gitlab-importer

autoload -U is-at-least

_gitlab-importer() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_gitlab-importer_commands" \
"*::: :->gitlab-importer" \
&& ret=0
    case $state in
    (gitlab-importer)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-command-$line[1]:"
        case $line[1] in
            (credentials)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
":: :_gitlab-importer__subcmd__credentials_commands" \
"*::: :->credentials" \
&& ret=0

    case $state in
    (credentials)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-credentials-command-$line[1]:"
        case $line[1] in
            (create)
_arguments "${_arguments_options[@]}" : \
'--base-url=[The GitLab'\''s URL, e.g. https\://gitlab.com/ or https\://git.example.com/gitlab/]:BASE_URL:_default' \
'--label=[A name for people]:LABEL:_default' \
'--expiration-date=[The day the token expires (YYYY-MM-DD)]:EXPIRATION_DATE:_default' \
'--ca-bundle=[A PEM file of the CA certificates that sign the GitLab'\''s TLS certificate (a private CA)]:FILE:_files' \
'--requests-per-minute=[GitLab requests per minute this credential may make]:REQUESTS_PER_MINUTE:_default' \
'*--include=[Import only projects whose path matches (repeatable, e.g. '\''acme/platform/**'\''; an update replaces the list)]:PATTERN:_default' \
'*--exclude=[Leave out projects whose path matches (repeatable, e.g. '\''acme/*/sandbox'\''; an update replaces the list)]:PATTERN:_default' \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(update)
_arguments "${_arguments_options[@]}" : \
'--base-url=[The GitLab'\''s URL (the connection'\''s instance cannot change)]:BASE_URL:_default' \
'--label=[A name for people]:LABEL:_default' \
'--expiration-date=[The day the token expires (YYYY-MM-DD)]:EXPIRATION_DATE:_default' \
'--ca-bundle=[A PEM file of the CA certificates that sign the GitLab'\''s TLS certificate (a private CA)]:FILE:_files' \
'--requests-per-minute=[GitLab requests per minute this credential may make]:REQUESTS_PER_MINUTE:_default' \
'*--include=[Import only projects whose path matches (repeatable, e.g. '\''acme/platform/**'\''; an update replaces the list)]:PATTERN:_default' \
'*--exclude=[Leave out projects whose path matches (repeatable, e.g. '\''acme/*/sandbox'\''; an update replaces the list)]:PATTERN:_default' \
'*--clear=[Clear a setting (repeatable)]:SETTING:(label expiration-date ca-bundle requests-per-minute include exclude)' \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--token[Rotate the token\: the new one is read from standard input, or asked for without echo]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':id -- The credential'\''s id (cred_...):_default' \
&& ret=0
;;
(info)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':id -- The credential'\''s id (cred_...):_default' \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--include-deleted[Also list deleted credentials]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(delete)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':id -- The credential'\''s id (cred_...):_default' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_gitlab-importer__subcmd__credentials__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-credentials-help-command-$line[1]:"
        case $line[1] in
            (create)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(update)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(info)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(delete)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(hooks)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
":: :_gitlab-importer__subcmd__hooks_commands" \
"*::: :->hooks" \
&& ret=0

    case $state in
    (hooks)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-hooks-command-$line[1]:"
        case $line[1] in
            (rotate)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_gitlab-importer__subcmd__hooks__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-hooks-help-command-$line[1]:"
        case $line[1] in
            (rotate)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(projects)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
":: :_gitlab-importer__subcmd__projects_commands" \
"*::: :->projects" \
&& ret=0

    case $state in
    (projects)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-projects-command-$line[1]:"
        case $line[1] in
            (list)
_arguments "${_arguments_options[@]}" : \
'--status=[Only projects in this state]:STATUS:(active failing forbidden excluded empty archived gone)' \
'--limit=[Items per page (1 to 100)]:LIMIT:_default' \
'--cursor=[Go on from a page'\''s next_cursor]:CURSOR:_default' \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'(--cursor)--all[Follow the cursor to the end (a progress bar on standard error when it is a terminal)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(info)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':project_id -- GitLab'\''s project id:_default' \
&& ret=0
;;
(sync)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':project_id -- GitLab'\''s project id:_default' \
&& ret=0
;;
(resync)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':project_id -- GitLab'\''s project id:_default' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_gitlab-importer__subcmd__projects__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-projects-help-command-$line[1]:"
        case $line[1] in
            (list)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(info)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(sync)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(resync)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(connections)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
":: :_gitlab-importer__subcmd__connections_commands" \
"*::: :->connections" \
&& ret=0

    case $state in
    (connections)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-connections-command-$line[1]:"
        case $line[1] in
            (sync)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_gitlab-importer__subcmd__connections__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-connections-help-command-$line[1]:"
        case $line[1] in
            (sync)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(commits)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
":: :_gitlab-importer__subcmd__commits_commands" \
"*::: :->commits" \
&& ret=0

    case $state in
    (commits)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-commits-command-$line[1]:"
        case $line[1] in
            (list)
_arguments "${_arguments_options[@]}" : \
'--project-id=[GitLab'\''s project id]:PROJECT_ID:_default' \
'--since=[Commits at or after this time (RFC 3339, e.g. 2026-01-01T00\:00\:00Z)]:SINCE:_default' \
'--until=[Commits before this time (RFC 3339)]:UNTIL:_default' \
'--limit=[Items per page (1 to 100)]:LIMIT:_default' \
'--cursor=[Go on from a page'\''s next_cursor]:CURSOR:_default' \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--include-removed[Also commits that left the default branch (with their removed_at)]' \
'(--cursor)--all[Follow the cursor to the end (a progress bar on standard error when it is a terminal)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_gitlab-importer__subcmd__commits__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-commits-help-command-$line[1]:"
        case $line[1] in
            (list)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(status)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(hook-setup)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--rotate[Make a new push hook secret and show it once (the old one stops working within a minute)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'--profile=[The AWS profile that signs requests (as the AWS CLI'\''s --profile)]:PROFILE:_default' \
'--region=[The stack'\''s AWS region (as the AWS CLI'\''s --region; else the profile'\''s or AWS_REGION)]:REGION:_default' \
'--stack=[The CloudFormation stack whose outputs name the API, its queues and its export bucket]:STACK:_default' \
'--api-url=[The API'\''s base URL (the stack'\''s CredentialsApiUrl output); wins over --stack]:API_URL:_default' \
'-c+[The connection (tenant) to act on]:CONNECTION:_default' \
'--connection=[The connection (tenant) to act on]:CONNECTION:_default' \
'-o+[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'--output=[How to print\: a table for people, the API'\''s JSON for scripts, CSV for listings]:OUTPUT:((table\:"Tables for people"
json\:"The API'\''s JSON, for scripts"
csv\:"Comma-separated values with a header row (listings only)"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':shell:(bash elvish fish powershell zsh)' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_gitlab-importer__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-help-command-$line[1]:"
        case $line[1] in
            (credentials)
_arguments "${_arguments_options[@]}" : \
":: :_gitlab-importer__subcmd__help__subcmd__credentials_commands" \
"*::: :->credentials" \
&& ret=0

    case $state in
    (credentials)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-help-credentials-command-$line[1]:"
        case $line[1] in
            (create)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(update)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(info)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(delete)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(hooks)
_arguments "${_arguments_options[@]}" : \
":: :_gitlab-importer__subcmd__help__subcmd__hooks_commands" \
"*::: :->hooks" \
&& ret=0

    case $state in
    (hooks)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-help-hooks-command-$line[1]:"
        case $line[1] in
            (rotate)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(projects)
_arguments "${_arguments_options[@]}" : \
":: :_gitlab-importer__subcmd__help__subcmd__projects_commands" \
"*::: :->projects" \
&& ret=0

    case $state in
    (projects)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-help-projects-command-$line[1]:"
        case $line[1] in
            (list)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(info)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(sync)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(resync)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(connections)
_arguments "${_arguments_options[@]}" : \
":: :_gitlab-importer__subcmd__help__subcmd__connections_commands" \
"*::: :->connections" \
&& ret=0

    case $state in
    (connections)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-help-connections-command-$line[1]:"
        case $line[1] in
            (sync)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(commits)
_arguments "${_arguments_options[@]}" : \
":: :_gitlab-importer__subcmd__help__subcmd__commits_commands" \
"*::: :->commits" \
&& ret=0

    case $state in
    (commits)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:gitlab-importer-help-commits-command-$line[1]:"
        case $line[1] in
            (list)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(status)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(hook-setup)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_gitlab-importer_commands] )) ||
_gitlab-importer_commands() {
    local commands; commands=(
'credentials:Connect GitLab\: store, verify, show and delete the connection'\''s tokens' \
'hooks:The connection'\''s push hook secret' \
'projects:Where each project stands; sync or re-import one now' \
'connections:Run the connection'\''s discovery now' \
'commits:Read the imported commits back' \
'status:One screen\: each credential'\''s last sync, failing projects, queued syncs, dead letters, the last export' \
'hook-setup:What to paste into GitLab'\''s webhook form\: the URL, the secret (with --rotate), the events to tick' \
'completions:Print a shell completion script (bash, zsh, fish, elvish, powershell)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gitlab-importer commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__commits_commands] )) ||
_gitlab-importer__subcmd__commits_commands() {
    local commands; commands=(
'list:A project'\''s imported commits, newest first' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gitlab-importer commits commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__commits__subcmd__help_commands] )) ||
_gitlab-importer__subcmd__commits__subcmd__help_commands() {
    local commands; commands=(
'list:A project'\''s imported commits, newest first' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gitlab-importer commits help commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__commits__subcmd__help__subcmd__help_commands] )) ||
_gitlab-importer__subcmd__commits__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer commits help help commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__commits__subcmd__help__subcmd__list_commands] )) ||
_gitlab-importer__subcmd__commits__subcmd__help__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer commits help list commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__commits__subcmd__list_commands] )) ||
_gitlab-importer__subcmd__commits__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer commits list commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__completions_commands] )) ||
_gitlab-importer__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer completions commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__connections_commands] )) ||
_gitlab-importer__subcmd__connections_commands() {
    local commands; commands=(
'sync:Discover the connection'\''s groups and projects and queue their syncs now, not at the next tick' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gitlab-importer connections commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__connections__subcmd__help_commands] )) ||
_gitlab-importer__subcmd__connections__subcmd__help_commands() {
    local commands; commands=(
'sync:Discover the connection'\''s groups and projects and queue their syncs now, not at the next tick' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gitlab-importer connections help commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__connections__subcmd__help__subcmd__help_commands] )) ||
_gitlab-importer__subcmd__connections__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer connections help help commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__connections__subcmd__help__subcmd__sync_commands] )) ||
_gitlab-importer__subcmd__connections__subcmd__help__subcmd__sync_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer connections help sync commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__connections__subcmd__sync_commands] )) ||
_gitlab-importer__subcmd__connections__subcmd__sync_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer connections sync commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__credentials_commands] )) ||
_gitlab-importer__subcmd__credentials_commands() {
    local commands; commands=(
'create:Verify a GitLab token and store it (the token is read from standard input, or asked for without echo)' \
'update:Change a credential'\''s settings, or rotate its token with --token (verified again first)' \
'info:One credential, with its last sync' \
'list:The connection'\''s credentials' \
'delete:Delete a credential (its token'\''s secret is kept 7 days, then deleted)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gitlab-importer credentials commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__credentials__subcmd__create_commands] )) ||
_gitlab-importer__subcmd__credentials__subcmd__create_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer credentials create commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__credentials__subcmd__delete_commands] )) ||
_gitlab-importer__subcmd__credentials__subcmd__delete_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer credentials delete commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__credentials__subcmd__help_commands] )) ||
_gitlab-importer__subcmd__credentials__subcmd__help_commands() {
    local commands; commands=(
'create:Verify a GitLab token and store it (the token is read from standard input, or asked for without echo)' \
'update:Change a credential'\''s settings, or rotate its token with --token (verified again first)' \
'info:One credential, with its last sync' \
'list:The connection'\''s credentials' \
'delete:Delete a credential (its token'\''s secret is kept 7 days, then deleted)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gitlab-importer credentials help commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__credentials__subcmd__help__subcmd__create_commands] )) ||
_gitlab-importer__subcmd__credentials__subcmd__help__subcmd__create_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer credentials help create commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__credentials__subcmd__help__subcmd__delete_commands] )) ||
_gitlab-importer__subcmd__credentials__subcmd__help__subcmd__delete_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer credentials help delete commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__credentials__subcmd__help__subcmd__help_commands] )) ||
_gitlab-importer__subcmd__credentials__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer credentials help help commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__credentials__subcmd__help__subcmd__info_commands] )) ||
_gitlab-importer__subcmd__credentials__subcmd__help__subcmd__info_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer credentials help info commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__credentials__subcmd__help__subcmd__list_commands] )) ||
_gitlab-importer__subcmd__credentials__subcmd__help__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer credentials help list commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__credentials__subcmd__help__subcmd__update_commands] )) ||
_gitlab-importer__subcmd__credentials__subcmd__help__subcmd__update_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer credentials help update commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__credentials__subcmd__info_commands] )) ||
_gitlab-importer__subcmd__credentials__subcmd__info_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer credentials info commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__credentials__subcmd__list_commands] )) ||
_gitlab-importer__subcmd__credentials__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer credentials list commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__credentials__subcmd__update_commands] )) ||
_gitlab-importer__subcmd__credentials__subcmd__update_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer credentials update commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help_commands] )) ||
_gitlab-importer__subcmd__help_commands() {
    local commands; commands=(
'credentials:Connect GitLab\: store, verify, show and delete the connection'\''s tokens' \
'hooks:The connection'\''s push hook secret' \
'projects:Where each project stands; sync or re-import one now' \
'connections:Run the connection'\''s discovery now' \
'commits:Read the imported commits back' \
'status:One screen\: each credential'\''s last sync, failing projects, queued syncs, dead letters, the last export' \
'hook-setup:What to paste into GitLab'\''s webhook form\: the URL, the secret (with --rotate), the events to tick' \
'completions:Print a shell completion script (bash, zsh, fish, elvish, powershell)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gitlab-importer help commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__commits_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__commits_commands() {
    local commands; commands=(
'list:A project'\''s imported commits, newest first' \
    )
    _describe -t commands 'gitlab-importer help commits commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__commits__subcmd__list_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__commits__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help commits list commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__completions_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help completions commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__connections_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__connections_commands() {
    local commands; commands=(
'sync:Discover the connection'\''s groups and projects and queue their syncs now, not at the next tick' \
    )
    _describe -t commands 'gitlab-importer help connections commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__connections__subcmd__sync_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__connections__subcmd__sync_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help connections sync commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__credentials_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__credentials_commands() {
    local commands; commands=(
'create:Verify a GitLab token and store it (the token is read from standard input, or asked for without echo)' \
'update:Change a credential'\''s settings, or rotate its token with --token (verified again first)' \
'info:One credential, with its last sync' \
'list:The connection'\''s credentials' \
'delete:Delete a credential (its token'\''s secret is kept 7 days, then deleted)' \
    )
    _describe -t commands 'gitlab-importer help credentials commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__credentials__subcmd__create_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__credentials__subcmd__create_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help credentials create commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__credentials__subcmd__delete_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__credentials__subcmd__delete_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help credentials delete commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__credentials__subcmd__info_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__credentials__subcmd__info_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help credentials info commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__credentials__subcmd__list_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__credentials__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help credentials list commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__credentials__subcmd__update_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__credentials__subcmd__update_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help credentials update commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__help_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help help commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__hook-setup_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__hook-setup_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help hook-setup commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__hooks_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__hooks_commands() {
    local commands; commands=(
'rotate:Make a new push hook secret and show it once (the old one stops working within a minute)' \
    )
    _describe -t commands 'gitlab-importer help hooks commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__hooks__subcmd__rotate_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__hooks__subcmd__rotate_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help hooks rotate commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__projects_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__projects_commands() {
    local commands; commands=(
'list:The connection'\''s projects and their state, in project id order' \
'info:One project\: its state, the import in progress, its recent failures' \
'sync:Sync one project now, a failing one too (a sync already queued or running covers the request)' \
'resync:Import a project'\''s whole default branch again and reconcile the table with it' \
    )
    _describe -t commands 'gitlab-importer help projects commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__projects__subcmd__info_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__projects__subcmd__info_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help projects info commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__projects__subcmd__list_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__projects__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help projects list commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__projects__subcmd__resync_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__projects__subcmd__resync_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help projects resync commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__projects__subcmd__sync_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__projects__subcmd__sync_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help projects sync commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__help__subcmd__status_commands] )) ||
_gitlab-importer__subcmd__help__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer help status commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__hook-setup_commands] )) ||
_gitlab-importer__subcmd__hook-setup_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer hook-setup commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__hooks_commands] )) ||
_gitlab-importer__subcmd__hooks_commands() {
    local commands; commands=(
'rotate:Make a new push hook secret and show it once (the old one stops working within a minute)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gitlab-importer hooks commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__hooks__subcmd__help_commands] )) ||
_gitlab-importer__subcmd__hooks__subcmd__help_commands() {
    local commands; commands=(
'rotate:Make a new push hook secret and show it once (the old one stops working within a minute)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gitlab-importer hooks help commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__hooks__subcmd__help__subcmd__help_commands] )) ||
_gitlab-importer__subcmd__hooks__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer hooks help help commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__hooks__subcmd__help__subcmd__rotate_commands] )) ||
_gitlab-importer__subcmd__hooks__subcmd__help__subcmd__rotate_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer hooks help rotate commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__hooks__subcmd__rotate_commands] )) ||
_gitlab-importer__subcmd__hooks__subcmd__rotate_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer hooks rotate commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__projects_commands] )) ||
_gitlab-importer__subcmd__projects_commands() {
    local commands; commands=(
'list:The connection'\''s projects and their state, in project id order' \
'info:One project\: its state, the import in progress, its recent failures' \
'sync:Sync one project now, a failing one too (a sync already queued or running covers the request)' \
'resync:Import a project'\''s whole default branch again and reconcile the table with it' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gitlab-importer projects commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__projects__subcmd__help_commands] )) ||
_gitlab-importer__subcmd__projects__subcmd__help_commands() {
    local commands; commands=(
'list:The connection'\''s projects and their state, in project id order' \
'info:One project\: its state, the import in progress, its recent failures' \
'sync:Sync one project now, a failing one too (a sync already queued or running covers the request)' \
'resync:Import a project'\''s whole default branch again and reconcile the table with it' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'gitlab-importer projects help commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__projects__subcmd__help__subcmd__help_commands] )) ||
_gitlab-importer__subcmd__projects__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer projects help help commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__projects__subcmd__help__subcmd__info_commands] )) ||
_gitlab-importer__subcmd__projects__subcmd__help__subcmd__info_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer projects help info commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__projects__subcmd__help__subcmd__list_commands] )) ||
_gitlab-importer__subcmd__projects__subcmd__help__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer projects help list commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__projects__subcmd__help__subcmd__resync_commands] )) ||
_gitlab-importer__subcmd__projects__subcmd__help__subcmd__resync_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer projects help resync commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__projects__subcmd__help__subcmd__sync_commands] )) ||
_gitlab-importer__subcmd__projects__subcmd__help__subcmd__sync_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer projects help sync commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__projects__subcmd__info_commands] )) ||
_gitlab-importer__subcmd__projects__subcmd__info_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer projects info commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__projects__subcmd__list_commands] )) ||
_gitlab-importer__subcmd__projects__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer projects list commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__projects__subcmd__resync_commands] )) ||
_gitlab-importer__subcmd__projects__subcmd__resync_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer projects resync commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__projects__subcmd__sync_commands] )) ||
_gitlab-importer__subcmd__projects__subcmd__sync_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer projects sync commands' commands "$@"
}
(( $+functions[_gitlab-importer__subcmd__status_commands] )) ||
_gitlab-importer__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'gitlab-importer status commands' commands "$@"
}

if [ "$funcstack[1]" = "_gitlab-importer" ]; then
    _gitlab-importer "$@"
else
    compdef _gitlab-importer gitlab-importer
fi
