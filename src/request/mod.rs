//! The request as the host hands it over: its header map read in place, its path screened
//! before any rule sees it, and where in its headers the token is.

pub mod extract;
pub mod header_pairs;
pub mod path_screen;
