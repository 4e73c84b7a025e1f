//! Accounts: whose customer pays, and who can be debited.

use super::*;

#[tokio::test]
async fn an_email_typed_on_stripe_s_page_never_joins_another_shopper_s_account() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let shopper = checkout_and_pay(&app, CARD_OK, true).await;
    let customer = customer_of(&app, &shopper).await.unwrap();

    let order = stranger_pays_with_the_same_email(&app, None).await;

    let stranger = account_of_order(&app, order).await;
    assert_ne!(stranger, shopper);
    assert_eq!(
        customer_of(&app, &shopper).await.as_deref(),
        Some(&*customer)
    );
    let (_, history) = api
        .get(&format!("/api/v1/accounts/{shopper}/payments"))
        .await;
    assert_eq!(history["data"].as_array().unwrap().len(), 1, "{history}");
}

#[tokio::test]
async fn opening_someone_else_s_return_page_does_not_make_you_pay_as_them() {
    let app = spawn_app().await;
    let shopper = checkout_and_pay(&app, CARD_OK, true).await;
    let order = app.orders().await.last().unwrap().id;
    let their_session: Option<String> = storefront::db::schema::orders::table
        .find(order)
        .select(storefront::db::schema::orders::stripe_session_id)
        .first(&mut app.db().await)
        .await
        .unwrap();
    let return_page = app.url(&format!(
        "/checkout/success?session_id={}",
        their_session.unwrap()
    ));

    let order = stranger_pays_with_the_same_email(&app, Some(&return_page)).await;

    assert_ne!(account_of_order(&app, order).await, shopper);
}

#[tokio::test]
async fn an_account_without_a_saved_card_cannot_be_debited() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, false).await;
    let (status, body) = api.debit(&account, "1.00", "usd").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_saved_payment_method",
    );
}

#[tokio::test]
async fn a_shared_computer_pays_as_its_previous_user_only_if_they_saved_their_card() {
    let app = spawn_app().await;
    // The first person saves their card.
    let first = checkout_and_pay(&app, CARD_OK, true).await;
    let orders = app.get("/orders").await.text().await.unwrap();
    assert!(orders.contains("Forget my saved card"), "{orders}");

    // The next checkout in this browser without "Save my card" is not theirs.
    let next = checkout_and_pay(&app, CARD_OK, false).await;
    assert_ne!(
        next, first,
        "a checkout without Save my card pays as a new customer"
    );

    // Forget it: the next save starts a new customer, not the first one's.
    let response = app.post_form("/orders/forget-card", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let orders = app.get("/orders").await.text().await.unwrap();
    assert!(orders.contains("has forgotten your saved card"), "{orders}");
    assert!(
        !orders.contains("Forget my saved card</button>"),
        "{orders}"
    );
    let after = checkout_and_pay(&app, CARD_OK, true).await;
    assert_ne!(after, first, "the forgotten customer is not used again");
}
