//! Products in the back office: created with an image that the shop then
//! shows, bad input refused with the form again and nothing changed, stock
//! adjustments that never go below zero, prices that never reach old
//! orders, and archiving instead of deleting what orders name.

use std::io::Cursor;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use storefront::db::schema::{order_items, products, stock_adjustments};

use super::{Staff, paid_order};
use crate::helpers::{TestApp, spawn_app, texts};

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::new_rgb8(width, height)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// A PNG whose header declares a huge canvas over a few bytes of data.
fn decompression_bomb() -> Vec<u8> {
    let mut bytes = png(1, 1);
    // IHDR's width and height are bytes 16..24; the chunk's CRC follows.
    bytes[16..20].copy_from_slice(&20_000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&20_000u32.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

async fn product_form(
    staff: &Staff,
    fields: &[(&str, &str)],
    image: Option<(Vec<u8>, &str)>,
) -> Form {
    let mut form = Form::new().text("csrf_token", staff.csrf().await);
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    if let Some((bytes, file_name)) = image {
        form = form.part(
            "image",
            Part::bytes(bytes)
                .file_name(file_name.to_owned())
                .mime_str("image/png")
                .unwrap(),
        );
    }
    form
}

async fn product_count(app: &TestApp) -> i64 {
    products::table
        .count()
        .get_result(&mut app.db().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_product_created_with_an_image_shows_in_the_shop() {
    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let fields = [
        ("name", "Café Crème Cup"),
        ("description", "A cup."),
        ("price", "19.50"),
        ("currency", "USD"),
        ("stock", "7"),
        ("active", "1"),
    ];
    let form = product_form(&staff, &fields, Some((png(2400, 1200), "cup.png"))).await;
    let response = staff
        .client
        .post(staff.url("/admin/products"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{}",
        response.text().await.unwrap()
    );
    let (slug, image_path, stock, price): (String, String, Option<i32>, i64) = products::table
        .filter(products::name.eq("Café Crème Cup"))
        .select((
            products::slug,
            products::image_path,
            products::stock,
            products::price_minor,
        ))
        .first(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(
        (slug.as_str(), stock, price),
        ("cafe-creme-cup", Some(7), 1950)
    );
    assert!(
        image_path.starts_with("uploads/") && image_path.ends_with(".png"),
        "{image_path}"
    );
    // The shop shows it as soon as the catalog hears of it (NOTIFY), with the image.
    app.eventually("the shop sells it", || async {
        app.get("/products/cafe-creme-cup").await.status() == StatusCode::OK
    })
    .await;
    let (status, page) = app.get_page("/products/cafe-creme-cup").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("/{image_path}")), "{page}");
    let image = app.get(&format!("/{image_path}")).await;
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(
        image.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let stored = image::load_from_memory(&image.bytes().await.unwrap()).unwrap();
    assert_eq!(
        (stored.width(), stored.height()),
        (1600, 800),
        "scaled down to the display size"
    );
    // A second product of the same name gets a numbered slug.
    let form = product_form(&staff, &fields, None).await;
    staff
        .client
        .post(staff.url("/admin/products"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    app.eventually("the second one is sold too", || async {
        app.get("/products/cafe-creme-cup-2").await.status() == StatusCode::OK
    })
    .await;
    assert_eq!(
        app.get("/uploads/../Cargo.toml").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// A refused product form: what it is, the fields it changes, its image,
/// the answer's status and what the form says.
type Case<'a> = (
    &'a str,
    Vec<(&'a str, &'a str)>,
    Option<Vec<u8>>,
    StatusCode,
    &'a str,
);

#[tokio::test]
async fn bad_product_input_is_refused_with_the_form_again_and_nothing_changes() {
    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
    fake.extend_from_slice(b"<html><script>alert(1)</script></html>");
    let before = product_count(&app).await;
    let cases: Vec<Case<'_>> = vec![
        (
            "too many decimals",
            vec![("price", "19.999")],
            None,
            StatusCode::BAD_REQUEST,
            "at most 2 decimal places",
        ),
        (
            "yen with decimals",
            vec![("price", "1.5"), ("currency", "JPY")],
            None,
            StatusCode::BAD_REQUEST,
            "whole numbers",
        ),
        (
            "negative stock",
            vec![("stock", "-1")],
            None,
            StatusCode::BAD_REQUEST,
            "can't be negative",
        ),
        (
            "huge stock",
            vec![("stock", "99999999999")],
            None,
            StatusCode::BAD_REQUEST,
            "Stock goes up to",
        ),
        (
            "huge price",
            vec![("price", "1000000")],
            None,
            StatusCode::BAD_REQUEST,
            "Prices go up to",
        ),
        (
            "duplicate slug",
            vec![("slug", "aurora-ceramic-mug")],
            None,
            StatusCode::CONFLICT,
            "already uses the slug",
        ),
        (
            "an HTML file with a PNG header",
            vec![],
            Some(fake),
            StatusCode::BAD_REQUEST,
            "could not be read",
        ),
        (
            "not an image",
            vec![],
            Some(b"<html></html>".to_vec()),
            StatusCode::BAD_REQUEST,
            "not a PNG, JPEG or WebP",
        ),
        (
            "a decompression bomb",
            vec![],
            Some(decompression_bomb()),
            StatusCode::BAD_REQUEST,
            "megapixels",
        ),
        (
            "an oversized image",
            vec![],
            Some(vec![0x89; 9 * 1024 * 1024]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "at most 8 MB",
        ),
    ];
    for (case, overrides, image, status, message) in cases {
        let mut fields = vec![
            ("name", "Tea Towel"),
            ("price", "12.00"),
            ("currency", "USD"),
            ("stock", "3"),
        ];
        for (key, value) in overrides {
            fields.retain(|(k, _)| *k != key);
            fields.push((key, value));
        }
        let form = product_form(&staff, &fields, image.map(|bytes| (bytes, "upload.png"))).await;
        let response = staff
            .client
            .post(staff.url("/admin/products"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{case}");
        let page = response.text().await.unwrap();
        assert!(
            texts(&page, ".field-error")
                .iter()
                .any(|e| e.contains(message)),
            "{case}: {:?}",
            texts(&page, ".field-error")
        );
        assert_eq!(
            crate::helpers::form_value(&page, "name").as_deref(),
            Some("Tea Towel"),
            "{case}: the form keeps what was typed"
        );
        assert_eq!(
            product_count(&app).await,
            before,
            "{case}: nothing was created"
        );
    }
    let uploads: Vec<_> = std::fs::read_dir(upload_dir(&app))
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(uploads.is_empty(), "no refused image was stored");
}

fn upload_dir(app: &TestApp) -> std::path::PathBuf {
    app.settings_upload_dir()
}

#[tokio::test]
async fn stock_changes_are_recorded_and_never_go_below_zero() {
    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let id: i64 = products::table
        .filter(products::slug.eq("trail-water-bottle"))
        .select(products::id)
        .first(&mut app.db().await)
        .await
        .unwrap();
    let path = format!("/admin/products/{id}/stock");
    let response = staff
        .post(&path, &[("change", "-4"), ("reason", "Breakage")])
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.unwrap();
    assert!(
        texts(&page, "#stock-error")[0].contains("at most 3"),
        "{page}"
    );
    for (change, reason) in [("abc", "x"), ("0", "x"), ("5", "")] {
        assert_eq!(
            staff
                .post(&path, &[("change", change), ("reason", reason)])
                .await
                .status(),
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(app.stock("trail-water-bottle").await, Some(3));
    assert_eq!(
        staff
            .post(&path, &[("change", "+10"), ("reason", "Delivery")])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        staff
            .post(&path, &[("change", "-2"), ("reason", "Breakage")])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.stock("trail-water-bottle").await, Some(11));
    let history: Vec<(i32, String, Option<i32>)> = stock_adjustments::table
        .filter(stock_adjustments::product_id.eq(id))
        .order_by(stock_adjustments::id)
        .select((
            stock_adjustments::delta,
            stock_adjustments::reason,
            stock_adjustments::stock_after,
        ))
        .load(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(
        history,
        [
            (10, "Delivery".to_owned(), Some(13)),
            (-2, "Breakage".to_owned(), Some(11))
        ]
    );
    let (_, page) = staff.page(&format!("/admin/products/{id}")).await;
    assert!(texts(&page, ".history li")[0].contains("Breakage"));
}

#[tokio::test]
async fn a_new_price_never_reaches_old_orders_and_ordered_products_are_archived_not_deleted() {
    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let (_, number) = paid_order(&app, "aurora-ceramic-mug", "1").await;
    let id: i64 = products::table
        .filter(products::slug.eq("aurora-ceramic-mug"))
        .select(products::id)
        .first(&mut app.db().await)
        .await
        .unwrap();
    let fields = [
        ("name", "Aurora Ceramic Mug"),
        ("slug", "aurora-ceramic-mug"),
        ("price", "30.00"),
        ("currency", "USD"),
        ("active", "1"),
    ];
    let form = product_form(&staff, &fields, None).await;
    let response = staff
        .client
        .post(staff.url(&format!("/admin/products/{id}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.eventually("the shop shows the new price", || async {
        app.get_page("/products/aurora-ceramic-mug")
            .await
            .1
            .contains("$30.00")
    })
    .await;
    let unit: i64 = order_items::table
        .filter(order_items::product_id.eq(id))
        .select(order_items::unit_price_minor)
        .first(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(unit, 2400, "the order keeps the price it was placed at");
    let (_, page) = staff.page(&format!("/admin/orders/{number}")).await;
    assert!(page.contains("$24.00"));
    // Delete: orders name it, so it is archived, off sale and kept.
    let response = staff
        .post(&format!("/admin/products/{id}/delete"), &[])
        .await;
    assert_eq!(
        response.headers()["location"],
        format!("/admin/products/{id}?notice=product-kept").as_str()
    );
    app.eventually("the shop no longer sells it", || async {
        app.get("/products/aurora-ceramic-mug").await.status() == StatusCode::NOT_FOUND
    })
    .await;
    let archived: Option<chrono::DateTime<chrono::Utc>> = products::table
        .find(id)
        .select(products::archived_at)
        .first(&mut app.db().await)
        .await
        .unwrap();
    assert!(archived.is_some());
    // One no order names is deleted.
    let other: i64 = products::table
        .filter(products::slug.eq("enamel-camp-pin"))
        .select(products::id)
        .first(&mut app.db().await)
        .await
        .unwrap();
    let response = staff
        .post(&format!("/admin/products/{other}/delete"), &[])
        .await;
    assert_eq!(
        response.headers()["location"],
        "/admin/products?notice=product-deleted"
    );
    assert_eq!(
        products::table
            .find(other)
            .count()
            .get_result::<i64>(&mut app.db().await)
            .await
            .unwrap(),
        0
    );
}
