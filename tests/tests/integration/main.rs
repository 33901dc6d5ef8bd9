//! The integration suite: black-box tests through the real router, on SQLite or PostgreSQL
//! depending on `DATABASE_URL`.

mod health;
mod territories;
