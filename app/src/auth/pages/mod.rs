//! The identity area's pages: logging in, the user menu in the header, API tokens.

pub mod login;
pub mod tokens;
