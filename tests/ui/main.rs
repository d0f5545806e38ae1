//! Tests of the web UI: `pages` over plain HTTP (sign-in, CSRF, scopes, escaping, conflicts)
//! and `browser` in headless Chromium over WebDriver (skipped without `HOOKD_TEST_WEBDRIVER`,
//! which `scripts/services/chromium.sh` exports). `helpers` is a cookie-keeping UI client.

mod browser;
mod helpers;
mod pages;
