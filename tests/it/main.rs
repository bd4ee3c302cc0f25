//! Integration tests: real HTTP to the GitLab simulator, the real AWS SDK to the moto server on loopback.
//! One test binary for the whole workspace keeps link time down on small machines.

mod alarms;
mod api_front;
mod artifact_run;
mod aws_stand_in;
mod cli;
mod cli_docs;
mod credentials_api;
mod docs;
mod dynamo_sync;
mod end_to_end;
mod export;
mod gitlab_client;
mod hostile;
mod local_serve;
mod named_run;
mod network_placement;
mod operate;
mod push_hook;
mod push_pipeline;
mod scheduler;
mod simulator;
mod stack_deploy;
mod structure;
mod sync;
mod sync_shares;
mod sync_worker;
mod template;
