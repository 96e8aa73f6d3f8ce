//! Security properties of the API, beyond single endpoints: tenant isolation on every route, API
//! key revocation, hostile input (oversized, deeply nested, non-UTF-8, huge or control-character
//! ids, path traversal), secrets kept out of logs and encrypted at rest (key files, wrong keys,
//! rotation through the binary, values bound to their owners), searches that cannot starve other
//! requests, slow and stalled connections. Cases run on SQLite and PostgreSQL.

#[macro_use]
mod support;

#[path = "security/encryption.rs"]
mod encryption;
#[path = "security/hostile.rs"]
mod hostile;
#[path = "security/isolation.rs"]
mod isolation;
#[path = "security/owner_binding.rs"]
mod owner_binding;
#[path = "security/routes.rs"]
mod routes;
#[path = "security/searches.rs"]
mod searches;
#[path = "security/secrets.rs"]
mod secrets;
#[path = "security/slow_clients.rs"]
mod slow_clients;
