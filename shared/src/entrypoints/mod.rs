pub mod credentials_api;
