//! Without SMTP_URL, messages are written as `.eml` files under
//! `DATA_DIR/mail`, and test mode's page lists and shows them: on this
//! machine only, the HTML part framed and sandboxed.

use std::os::unix::fs::PermissionsExt;

use reqwest::StatusCode;

use super::{buy, settled_outbox, shop_sending_to};
use crate::helpers::{spawn_app, spawn_app_with, texts};
use crate::smtp::SmtpServer;

#[tokio::test]
async fn messages_become_private_eml_files_that_test_mode_lists_and_shows() {
    let app = spawn_app().await;
    let order = buy(&app, "aurora-ceramic-mug", "1").await;
    let row = settled_outbox(&app, 1).await.remove(0);
    assert_eq!(row.status, "sent");

    let dir = app.data_dir().join("mail");
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "one message, no temporary file left: {files:?}"
    );
    let file = &files[0];
    assert!(
        file.ends_with(&format!("-{}.eml", row.message_id.simple())),
        "{file}"
    );
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(file)), 0o600);
    let eml = std::fs::read_to_string(dir.join(file)).unwrap();
    assert!(eml.contains("To: shopper@example.com"), "{eml}");
    assert!(eml.contains("Message-ID: <"), "{eml}");
    let name = file.trim_end_matches(".eml");
    let subject = format!(
        "[Test] Your Storefront order {} is confirmed",
        order.display_number()
    );

    // Linked from the test-mode banner on every page.
    let (_, home) = app.get_page("/").await;
    assert!(home.contains("href=\"/test-mode/mail\""));
    let list = app.get("/test-mode/mail").await;
    assert_eq!(list.status(), StatusCode::OK);
    assert_eq!(list.headers()["cache-control"], "private, no-store");
    let list = list.text().await.unwrap();
    assert_eq!(
        texts(&list, ".sent-mail tbody th"),
        std::slice::from_ref(&subject)
    );
    assert!(list.contains(&format!("href=\"/test-mode/mail/{name}\"")));

    let (status, shown) = app.get_page(&format!("/test-mode/mail/{name}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&shown, "h1"), [subject]);
    assert!(shown.contains("shopper@example.com"));
    assert!(texts(&shown, ".sent-email-text")[0].contains("1 x Aurora Ceramic Mug"));
    assert!(shown.contains(&format!(
        "<iframe class=\"sent-email-html\" src=\"/test-mode/mail/{name}/html\""
    )));
    assert!(shown.contains("sandbox=\"allow-popups allow-popups-to-escape-sandbox\""));

    let html = app.get(&format!("/test-mode/mail/{name}/html")).await;
    assert_eq!(html.status(), StatusCode::OK);
    let csp = html.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(csp.contains("sandbox"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert_eq!(html.headers()["x-frame-options"], "SAMEORIGIN");
    assert!(
        html.text()
            .await
            .unwrap()
            .contains("Thank you! Your order is confirmed.")
    );

    for path in [
        "/test-mode/mail/20261204T180526Z-00000000000000000000000000000000",
        "/test-mode/mail/..%2F..%2Fsession_key",
        "/test-mode/mail/%2Fetc%2Fpasswd/html",
        "/test-mode/mail/not-a-mail",
    ] {
        let (status, _) = app.get_page(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn the_page_says_where_mail_goes_when_it_cannot_list_it() {
    let smtp = SmtpServer::start(&[]).await;
    let via_smtp = shop_sending_to(&smtp, &[]).await;
    let (status, page) = via_smtp.get_page("/test-mode/mail").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("sends its emails to the mail server in <code>SMTP_URL</code>"),
        "{page}"
    );

    // A shop on a public address writes files, but shows them to nobody.
    let public = spawn_app_with(&[("APP_BASE_URL", "https://shop.example.com")]).await;
    let name = "20261204T180526Z-0123456789abcdef0123456789abcdef";
    std::fs::write(
        public.data_dir().join("mail").join(format!("{name}.eml")),
        "To: shopper@example.com\r\nSubject: A shopper's order\r\n\r\nTheir order.\r\n",
    )
    .unwrap();
    let (status, page) = public.get_page("/test-mode/mail").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("only when the shop runs on this computer"),
        "{page}"
    );
    assert!(!page.contains("A shopper's order"));
    for path in [
        format!("/test-mode/mail/{name}"),
        format!("/test-mode/mail/{name}/html"),
    ] {
        let (status, page) = public.get_page(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.contains("Their order"));
    }
}
