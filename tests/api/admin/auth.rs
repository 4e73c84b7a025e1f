//! Signing in and out: one answer for an unknown email and a wrong
//! password, limits per account with Retry-After, a new session id at each
//! sign-in, sign-out and disabled accounts ending sessions, idle sessions
//! expiring, and `next` staying on this site.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use storefront::admin::auth::accounts;
use storefront::db::schema::{staff_login_attempts, staff_sessions};

use super::{PASSWORD, Staff, create_staff};
use crate::helpers::{spawn_app, texts};

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("storefront_staff="))
}

#[tokio::test]
async fn signing_in_gives_a_strict_admin_only_cookie_and_a_new_session_each_time() {
    let app = spawn_app().await;
    create_staff(&app, "alice@example.com").await;
    let staff = Staff::new(&app);
    let response = staff.sign_in("Alice@Example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/admin");
    let cookie = session_cookie(&response).expect("a staff session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let (status, page) = staff.page("/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&page, "h1"), ["Dashboard"]);
    // Signed in already, the sign-in page moves on.
    assert_eq!(
        staff.get("/admin/login").await.headers()["location"],
        "/admin"
    );
    // Signing out ends the session everywhere.
    let response = staff.post("/admin/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(staff.get("/admin").await.status(), StatusCode::SEE_OTHER);
    let sessions: i64 = staff_sessions::table
        .count()
        .get_result(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    // Signing in again makes a new session id.
    let again = session_cookie(&staff.sign_in("alice@example.com", PASSWORD).await).unwrap();
    assert_ne!(again, cookie);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer_and_attempts_are_limited() {
    let app = spawn_app().await;
    create_staff(&app, "alice@example.com").await;
    let staff = Staff::new(&app);
    let wrong = staff.sign_in("alice@example.com", "not the password").await;
    let unknown = staff
        .sign_in("nobody@example.com", "not the password")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let message = |page: &str| texts(page, "#sign-in-error");
    let (wrong, unknown) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(message(&wrong), message(&unknown));
    assert!(message(&wrong)[0].contains("don't match an account"));
    // Four more failures at the account, then even the right password waits.
    for _ in 0..4 {
        assert_eq!(
            staff
                .sign_in("alice@example.com", "nope nope nope")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = staff.sign_in("alice@example.com", PASSWORD).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert!(message(&limited.text().await.unwrap())[0].contains("Too many failed sign-ins"));
    // Once the failures age out of the window, the account signs in.
    diesel::update(staff_login_attempts::table)
        .set(
            staff_login_attempts::created_at.eq(chrono::Utc::now() - chrono::Duration::minutes(16)),
        )
        .execute(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(
        staff.sign_in("alice@example.com", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_disabled_account_is_signed_out_and_idle_sessions_expire() {
    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    assert_eq!(staff.get("/admin/orders").await.status(), StatusCode::OK);
    // Idle past the timeout (30 minutes by default).
    diesel::update(staff_sessions::table)
        .set(staff_sessions::last_seen_at.eq(chrono::Utc::now() - chrono::Duration::minutes(31)))
        .execute(&mut app.db().await)
        .await
        .unwrap();
    let response = staff.get("/admin/orders").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        "/admin/login?next=%2Fadmin%2Forders"
    );
    // Signed in again, then disabled from the command line.
    assert_eq!(
        staff.sign_in("alice@example.com", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    accounts::disable(&mut app.db().await, "alice@example.com")
        .await
        .unwrap();
    assert_eq!(
        staff.get("/admin/orders").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        staff.sign_in("alice@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A new password enables it again.
    accounts::reset_password(
        &mut app.db().await,
        "alice@example.com",
        "Another-Long-Phrase-77".into(),
    )
    .await
    .unwrap();
    assert_eq!(
        staff
            .sign_in("alice@example.com", "Another-Long-Phrase-77")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn sign_in_returns_to_the_page_asked_for_on_this_site_only() {
    let app = spawn_app().await;
    create_staff(&app, "alice@example.com").await;
    let staff = Staff::new(&app);
    let response = staff.get("/admin/orders?status=paid").await;
    assert_eq!(
        response.headers()["location"],
        "/admin/login?next=%2Fadmin%2Forders%3Fstatus%3Dpaid"
    );
    for (next, expected) in [
        ("/admin/orders?status=paid", "/admin/orders?status=paid"),
        ("//evil.example/admin", "/admin"),
        ("https://evil.example/admin", "/admin"),
        ("/\\evil.example", "/admin"),
    ] {
        let (_, page) = staff.page("/admin/login").await;
        let token = crate::helpers::form_value(&page, "csrf_token").unwrap();
        let response = staff
            .client
            .post(staff.url("/admin/login"))
            .form(&[
                ("email", "alice@example.com"),
                ("password", PASSWORD),
                ("csrf_token", &token),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["location"], expected, "{next}");
        staff.post("/admin/logout", &[]).await;
    }
}

#[tokio::test]
async fn accounts_refuse_common_passwords_and_taken_emails() {
    let app = spawn_app().await;
    let mut conn = app.db().await;
    for weak in ["short", "password1234", "qwertyuiop123"] {
        assert!(
            accounts::create(&mut conn, "bob@example.com", weak.into())
                .await
                .is_err(),
            "{weak}"
        );
    }
    accounts::create(&mut conn, "bob@example.com", PASSWORD.into())
        .await
        .unwrap();
    let taken = accounts::create(&mut conn, "BOB@example.com", PASSWORD.into())
        .await
        .unwrap_err();
    assert!(taken.to_string().contains("already exists"), "{taken}");
    let listed = accounts::list(&mut conn).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].password_hash.starts_with("$argon2id$"));
}

/// Runs `storefront admin ARGS` on the app's database, with `stdin` piped in.
fn admin_command(
    app: &crate::helpers::TestApp,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_storefront"))
        .arg("admin")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", app.db_url.expose())
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running storefront");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn the_admin_command_reads_the_password_from_stdin_and_manages_accounts() {
    let app = spawn_app().await;
    let created = admin_command(
        &app,
        &["create", "--email", "ops@example.com"],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let weak = admin_command(
        &app,
        &["create", "--email", "weak@example.com"],
        "password1234\n",
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("too easy to guess"));
    let listed = admin_command(&app, &["list"], "");
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("ops@example.com") && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains("weak@example.com"));
    // The account signs in; disabled from the command line, it is signed out.
    let staff = Staff::new(&app);
    assert_eq!(
        staff.sign_in("ops@example.com", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        admin_command(&app, &["disable", "ops@example.com"], "")
            .status
            .success()
    );
    assert_eq!(staff.get("/admin").await.status(), StatusCode::SEE_OTHER);
    let reset = admin_command(
        &app,
        &["reset-password", "ops@example.com"],
        "Quiet-Harbour-Lamp-19\n",
    );
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    assert_eq!(
        staff
            .sign_in("ops@example.com", "Quiet-Harbour-Lamp-19")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let unknown = admin_command(&app, &["disable", "nobody@example.com"], "");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no staff account"));
}
