//! eCarto contributions: the platform through which collectivités and académies correct and
//! complete the open data on digital education in schools, and through which it is published.

pub mod app;
pub mod bench_support;
pub mod config;
pub mod db;
pub mod domain;
pub mod entities;
pub mod error;
pub mod http;
pub mod importers;
pub mod jobs;
pub mod reference;
pub mod services;
pub mod synthetic;
pub mod validation;
