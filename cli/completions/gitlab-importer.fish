# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_gitlab_importer_global_optspecs
    string join \n profile= region= stack= api-url= c/connection= o/output= h/help V/version
end

function __fish_gitlab_importer_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_gitlab_importer_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_gitlab_importer_using_subcommand
    set -l cmd (__fish_gitlab_importer_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -s V -l version -d 'Print version'
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -f -a "credentials" -d 'Connect GitLab: store, verify, show and delete the connection\'s tokens'
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -f -a "hooks" -d 'The connection\'s push hook secret'
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -f -a "projects" -d 'Where each project stands; sync or re-import one now'
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -f -a "connections" -d 'Run the connection\'s discovery now'
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -f -a "commits" -d 'Read the imported commits back'
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -f -a "status" -d 'One screen: each credential\'s last sync, failing projects, queued syncs, dead letters, the last export'
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -f -a "hook-setup" -d 'What to paste into GitLab\'s webhook form: the URL, the secret (with --rotate), the events to tick'
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c gitlab-importer -n "__fish_gitlab_importer_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and not __fish_seen_subcommand_from create update info list delete help" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and not __fish_seen_subcommand_from create update info list delete help" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and not __fish_seen_subcommand_from create update info list delete help" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and not __fish_seen_subcommand_from create update info list delete help" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and not __fish_seen_subcommand_from create update info list delete help" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and not __fish_seen_subcommand_from create update info list delete help" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and not __fish_seen_subcommand_from create update info list delete help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and not __fish_seen_subcommand_from create update info list delete help" -f -a "create" -d 'Verify a GitLab token and store it (the token is read from standard input, or asked for without echo)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and not __fish_seen_subcommand_from create update info list delete help" -f -a "update" -d 'Change a credential\'s settings, or rotate its token with --token (verified again first)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and not __fish_seen_subcommand_from create update info list delete help" -f -a "info" -d 'One credential, with its last sync'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and not __fish_seen_subcommand_from create update info list delete help" -f -a "list" -d 'The connection\'s credentials'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and not __fish_seen_subcommand_from create update info list delete help" -f -a "delete" -d 'Delete a credential (its token\'s secret is kept 7 days, then deleted)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and not __fish_seen_subcommand_from create update info list delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -l base-url -d 'The GitLab\'s URL, e.g. https://gitlab.com/ or https://git.example.com/gitlab/' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -l label -d 'A name for people' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -l expiration-date -d 'The day the token expires (YYYY-MM-DD)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -l ca-bundle -d 'A PEM file of the CA certificates that sign the GitLab\'s TLS certificate (a private CA)' -r -F
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -l requests-per-minute -d 'GitLab requests per minute this credential may make' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -l include -d 'Import only projects whose path matches (repeatable, e.g. \'acme/platform/**\'; an update replaces the list)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -l exclude -d 'Leave out projects whose path matches (repeatable, e.g. \'acme/*/sandbox\'; an update replaces the list)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -l base-url -d 'The GitLab\'s URL (the connection\'s instance cannot change)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -l label -d 'A name for people' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -l expiration-date -d 'The day the token expires (YYYY-MM-DD)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -l ca-bundle -d 'A PEM file of the CA certificates that sign the GitLab\'s TLS certificate (a private CA)' -r -F
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -l requests-per-minute -d 'GitLab requests per minute this credential may make' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -l include -d 'Import only projects whose path matches (repeatable, e.g. \'acme/platform/**\'; an update replaces the list)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -l exclude -d 'Leave out projects whose path matches (repeatable, e.g. \'acme/*/sandbox\'; an update replaces the list)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -l clear -d 'Clear a setting (repeatable)' -r -f -a "label\t''
expiration-date\t''
ca-bundle\t''
requests-per-minute\t''
include\t''
exclude\t''"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -l token -d 'Rotate the token: the new one is read from standard input, or asked for without echo'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from info" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from info" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from info" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from info" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from info" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from info" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from info" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from list" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from list" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from list" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from list" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from list" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from list" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from list" -l include-deleted -d 'Also list deleted credentials'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from delete" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from delete" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from delete" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from delete" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from delete" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from delete" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from help" -f -a "create" -d 'Verify a GitLab token and store it (the token is read from standard input, or asked for without echo)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change a credential\'s settings, or rotate its token with --token (verified again first)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from help" -f -a "info" -d 'One credential, with its last sync'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from help" -f -a "list" -d 'The connection\'s credentials'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a credential (its token\'s secret is kept 7 days, then deleted)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand credentials; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and not __fish_seen_subcommand_from rotate help" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and not __fish_seen_subcommand_from rotate help" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and not __fish_seen_subcommand_from rotate help" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and not __fish_seen_subcommand_from rotate help" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and not __fish_seen_subcommand_from rotate help" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and not __fish_seen_subcommand_from rotate help" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and not __fish_seen_subcommand_from rotate help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and not __fish_seen_subcommand_from rotate help" -f -a "rotate" -d 'Make a new push hook secret and show it once (the old one stops working within a minute)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and not __fish_seen_subcommand_from rotate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and __fish_seen_subcommand_from rotate" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and __fish_seen_subcommand_from rotate" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and __fish_seen_subcommand_from rotate" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and __fish_seen_subcommand_from rotate" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and __fish_seen_subcommand_from rotate" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and __fish_seen_subcommand_from rotate" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Make a new push hook secret and show it once (the old one stops working within a minute)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hooks; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and not __fish_seen_subcommand_from list info sync resync help" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and not __fish_seen_subcommand_from list info sync resync help" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and not __fish_seen_subcommand_from list info sync resync help" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and not __fish_seen_subcommand_from list info sync resync help" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and not __fish_seen_subcommand_from list info sync resync help" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and not __fish_seen_subcommand_from list info sync resync help" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and not __fish_seen_subcommand_from list info sync resync help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and not __fish_seen_subcommand_from list info sync resync help" -f -a "list" -d 'The connection\'s projects and their state, in project id order'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and not __fish_seen_subcommand_from list info sync resync help" -f -a "info" -d 'One project: its state, the import in progress, its recent failures'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and not __fish_seen_subcommand_from list info sync resync help" -f -a "sync" -d 'Sync one project now, a failing one too (a sync already queued or running covers the request)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and not __fish_seen_subcommand_from list info sync resync help" -f -a "resync" -d 'Import a project\'s whole default branch again and reconcile the table with it'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and not __fish_seen_subcommand_from list info sync resync help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from list" -l status -d 'Only projects in this state' -r -f -a "active\t''
failing\t''
forbidden\t''
excluded\t''
empty\t''
archived\t''
gone\t''"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from list" -l limit -d 'Items per page (1 to 100)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from list" -l cursor -d 'Go on from a page\'s next_cursor' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from list" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from list" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from list" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from list" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from list" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from list" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from list" -l all -d 'Follow the cursor to the end (a progress bar on standard error when it is a terminal)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from info" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from info" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from info" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from info" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from info" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from info" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from info" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from sync" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from sync" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from sync" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from sync" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from sync" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from sync" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from resync" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from resync" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from resync" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from resync" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from resync" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from resync" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from resync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from help" -f -a "list" -d 'The connection\'s projects and their state, in project id order'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from help" -f -a "info" -d 'One project: its state, the import in progress, its recent failures'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from help" -f -a "sync" -d 'Sync one project now, a failing one too (a sync already queued or running covers the request)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from help" -f -a "resync" -d 'Import a project\'s whole default branch again and reconcile the table with it'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand projects; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and not __fish_seen_subcommand_from sync help" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and not __fish_seen_subcommand_from sync help" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and not __fish_seen_subcommand_from sync help" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and not __fish_seen_subcommand_from sync help" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and not __fish_seen_subcommand_from sync help" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and not __fish_seen_subcommand_from sync help" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and not __fish_seen_subcommand_from sync help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and not __fish_seen_subcommand_from sync help" -f -a "sync" -d 'Discover the connection\'s groups and projects and queue their syncs now, not at the next tick'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and not __fish_seen_subcommand_from sync help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and __fish_seen_subcommand_from sync" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and __fish_seen_subcommand_from sync" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and __fish_seen_subcommand_from sync" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and __fish_seen_subcommand_from sync" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and __fish_seen_subcommand_from sync" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and __fish_seen_subcommand_from sync" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and __fish_seen_subcommand_from sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and __fish_seen_subcommand_from help" -f -a "sync" -d 'Discover the connection\'s groups and projects and queue their syncs now, not at the next tick'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand connections; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and not __fish_seen_subcommand_from list help" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and not __fish_seen_subcommand_from list help" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and not __fish_seen_subcommand_from list help" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and not __fish_seen_subcommand_from list help" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and not __fish_seen_subcommand_from list help" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and not __fish_seen_subcommand_from list help" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'A project\'s imported commits, newest first'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -l project-id -d 'GitLab\'s project id' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -l since -d 'Commits at or after this time (RFC 3339, e.g. 2026-01-01T00:00:00Z)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -l until -d 'Commits before this time (RFC 3339)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -l limit -d 'Items per page (1 to 100)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -l cursor -d 'Go on from a page\'s next_cursor' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -l include-removed -d 'Also commits that left the default branch (with their removed_at)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -l all -d 'Follow the cursor to the end (a progress bar on standard error when it is a terminal)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from help" -f -a "list" -d 'A project\'s imported commits, newest first'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand commits; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand status" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand status" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand status" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand status" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand status" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand status" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hook-setup" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hook-setup" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hook-setup" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hook-setup" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hook-setup" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hook-setup" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hook-setup" -l rotate -d 'Make a new push hook secret and show it once (the old one stops working within a minute)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand hook-setup" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand completions" -l profile -d 'The AWS profile that signs requests (as the AWS CLI\'s --profile)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand completions" -l region -d 'The stack\'s AWS region (as the AWS CLI\'s --region; else the profile\'s or AWS_REGION)' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand completions" -l stack -d 'The CloudFormation stack whose outputs name the API, its queues and its export bucket' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand completions" -l api-url -d 'The API\'s base URL (the stack\'s CredentialsApiUrl output); wins over --stack' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand completions" -s c -l connection -d 'The connection (tenant) to act on' -r
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand completions" -s o -l output -d 'How to print: a table for people, the API\'s JSON for scripts, CSV for listings' -r -f -a "table\t'Tables for people'
json\t'The API\'s JSON, for scripts'
csv\t'Comma-separated values with a header row (listings only)'"
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and not __fish_seen_subcommand_from credentials hooks projects connections commits status hook-setup completions help" -f -a "credentials" -d 'Connect GitLab: store, verify, show and delete the connection\'s tokens'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and not __fish_seen_subcommand_from credentials hooks projects connections commits status hook-setup completions help" -f -a "hooks" -d 'The connection\'s push hook secret'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and not __fish_seen_subcommand_from credentials hooks projects connections commits status hook-setup completions help" -f -a "projects" -d 'Where each project stands; sync or re-import one now'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and not __fish_seen_subcommand_from credentials hooks projects connections commits status hook-setup completions help" -f -a "connections" -d 'Run the connection\'s discovery now'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and not __fish_seen_subcommand_from credentials hooks projects connections commits status hook-setup completions help" -f -a "commits" -d 'Read the imported commits back'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and not __fish_seen_subcommand_from credentials hooks projects connections commits status hook-setup completions help" -f -a "status" -d 'One screen: each credential\'s last sync, failing projects, queued syncs, dead letters, the last export'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and not __fish_seen_subcommand_from credentials hooks projects connections commits status hook-setup completions help" -f -a "hook-setup" -d 'What to paste into GitLab\'s webhook form: the URL, the secret (with --rotate), the events to tick'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and not __fish_seen_subcommand_from credentials hooks projects connections commits status hook-setup completions help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and not __fish_seen_subcommand_from credentials hooks projects connections commits status hook-setup completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and __fish_seen_subcommand_from credentials" -f -a "create" -d 'Verify a GitLab token and store it (the token is read from standard input, or asked for without echo)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and __fish_seen_subcommand_from credentials" -f -a "update" -d 'Change a credential\'s settings, or rotate its token with --token (verified again first)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and __fish_seen_subcommand_from credentials" -f -a "info" -d 'One credential, with its last sync'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and __fish_seen_subcommand_from credentials" -f -a "list" -d 'The connection\'s credentials'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and __fish_seen_subcommand_from credentials" -f -a "delete" -d 'Delete a credential (its token\'s secret is kept 7 days, then deleted)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and __fish_seen_subcommand_from hooks" -f -a "rotate" -d 'Make a new push hook secret and show it once (the old one stops working within a minute)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and __fish_seen_subcommand_from projects" -f -a "list" -d 'The connection\'s projects and their state, in project id order'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and __fish_seen_subcommand_from projects" -f -a "info" -d 'One project: its state, the import in progress, its recent failures'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and __fish_seen_subcommand_from projects" -f -a "sync" -d 'Sync one project now, a failing one too (a sync already queued or running covers the request)'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and __fish_seen_subcommand_from projects" -f -a "resync" -d 'Import a project\'s whole default branch again and reconcile the table with it'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and __fish_seen_subcommand_from connections" -f -a "sync" -d 'Discover the connection\'s groups and projects and queue their syncs now, not at the next tick'
complete -c gitlab-importer -n "__fish_gitlab_importer_using_subcommand help; and __fish_seen_subcommand_from commits" -f -a "list" -d 'A project\'s imported commits, newest first'
