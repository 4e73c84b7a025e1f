// @generated shape of migrations/, checked in (`diesel print-schema` output).

diesel::table! {
    accounts (id) {
        id -> Text,
        stripe_customer_id -> Nullable<Text>,
        email -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    api_delivery_attempts (id) {
        id -> Int8,
        delivery_id -> Int8,
        attempt -> Int4,
        attempted_at -> Timestamptz,
        response_status -> Nullable<Int2>,
        duration_ms -> Int4,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    api_event_deliveries (id) {
        id -> Int8,
        event_id -> Text,
        endpoint_id -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        created_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    api_events (id) {
        id -> Text,
        #[sql_name = "type"]
        kind -> Text,
        data -> Jsonb,
        livemode -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    api_idempotency (api_key_id, key) {
        api_key_id -> Int8,
        key -> Text,
        request_hash -> Bytea,
        payment_id -> Text,
        response_status -> Nullable<Int2>,
        response_body -> Nullable<Jsonb>,
        locked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        refund_id -> Nullable<Int8>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Int8,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    cart_items (id) {
        id -> Int8,
        cart_id -> Uuid,
        product_id -> Int8,
        quantity -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    carts (id) {
        id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    collection_products (collection_id, product_id) {
        collection_id -> Int8,
        product_id -> Int8,
    }
}

diesel::table! {
    collections (id) {
        id -> Int8,
        slug -> Text,
        name -> Text,
        description -> Text,
        position -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    debit_queue (payment_id) {
        payment_id -> Text,
        description -> Nullable<Text>,
        queued_at -> Timestamptz,
        run_at -> Timestamptz,
        attempts -> Int4,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        staff_id -> Nullable<Int8>,
        actor -> Text,
        action -> Text,
        subject -> Text,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Int8,
        kind -> Text,
        order_id -> Nullable<Int8>,
        recipient -> Nullable<Text>,
        details -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        message_id -> Uuid,
        resend_of -> Nullable<Int8>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    order_checkouts (order_id) {
        order_id -> Int8,
        amount_subtotal_minor -> Int8,
        amount_discount_minor -> Int8,
        amount_shipping_minor -> Int8,
        amount_tax_minor -> Int8,
        promotion_code -> Nullable<Text>,
        shipping_name -> Nullable<Text>,
        shipping_line1 -> Nullable<Text>,
        shipping_line2 -> Nullable<Text>,
        shipping_city -> Nullable<Text>,
        shipping_state -> Nullable<Text>,
        shipping_postal_code -> Nullable<Text>,
        shipping_country -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    order_events (id) {
        id -> Int8,
        order_id -> Int8,
        kind -> Text,
        source -> Text,
        created_at -> Timestamptz,
        staff_id -> Nullable<Int8>,
    }
}

diesel::table! {
    order_items (id) {
        id -> Int8,
        order_id -> Int8,
        product_id -> Int8,
        product_name -> Text,
        unit_price_minor -> Int8,
        quantity -> Int4,
        restocked_quantity -> Int4,
    }
}

diesel::table! {
    order_shipping_options (order_id, position) {
        order_id -> Int8,
        position -> Int2,
        shipping_rate_id -> Nullable<Int8>,
        display_name -> Text,
        amount_minor -> Int8,
        min_business_days -> Nullable<Int4>,
        max_business_days -> Nullable<Int4>,
        chosen -> Bool,
    }
}

diesel::table! {
    orders (id) {
        id -> Int8,
        token -> Text,
        browser_id -> Uuid,
        cart_id -> Nullable<Uuid>,
        status -> Text,
        currency -> Text,
        amount_total_minor -> Int8,
        amount_refunded_minor -> Int8,
        email -> Nullable<Text>,
        stripe_session_id -> Nullable<Text>,
        stripe_payment_intent_id -> Nullable<Text>,
        checkout_url -> Nullable<Text>,
        paid_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        number -> Text,
        livemode -> Bool,
        client_key -> Nullable<Text>,
        save_card -> Bool,
        stripe_checked_at -> Nullable<Timestamptz>,
        prices_include_tax -> Bool,
        completed_at -> Nullable<Timestamptz>,
        amount_charged_minor -> Nullable<Int8>,
    }
}

diesel::table! {
    orders_link_requests (id) {
        id -> Int8,
        client -> Text,
        email -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    order_issues (id) {
        id -> Int8,
        order_id -> Int8,
        kind -> Text,
        details -> Jsonb,
        created_at -> Timestamptz,
        resolved_at -> Nullable<Timestamptz>,
        resolved_by -> Nullable<Text>,
    }
}

diesel::table! {
    payments (id) {
        id -> Text,
        account_id -> Text,
        order_id -> Nullable<Int8>,
        stripe_payment_intent_id -> Nullable<Text>,
        stripe_customer_id -> Nullable<Text>,
        stripe_payment_method_id -> Nullable<Text>,
        amount_minor -> Int8,
        currency -> Text,
        status -> Text,
        failure_code -> Nullable<Text>,
        decline_code -> Nullable<Text>,
        failure_message -> Nullable<Text>,
        description -> Nullable<Text>,
        metadata -> Jsonb,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        amount_refunded_minor -> Int8,
        livemode -> Bool,
        amount_subtotal_minor -> Nullable<Int8>,
        amount_discount_minor -> Nullable<Int8>,
        amount_shipping_minor -> Nullable<Int8>,
        amount_tax_minor -> Nullable<Int8>,
    }
}

diesel::table! {
    products (id) {
        id -> Int8,
        slug -> Text,
        name -> Text,
        description -> Text,
        price_minor -> Int8,
        currency -> Text,
        image_path -> Text,
        stock -> Nullable<Int4>,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        archived_at -> Nullable<Timestamptz>,
        requires_shipping -> Bool,
        // `search` (tsvector, generated from name and description) is read
        // only by the catalog's search, in SQL.
    }
}

diesel::table! {
    refunds (id) {
        id -> Int8,
        order_id -> Nullable<Int8>,
        amount_minor -> Int8,
        reason -> Nullable<Text>,
        note -> Nullable<Text>,
        status -> Text,
        idempotency_key -> Nullable<Text>,
        stripe_refund_id -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        restock -> Jsonb,
        restocked_at -> Nullable<Timestamptz>,
        staff_id -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        payment_intent_id -> Text,
        public_id -> Text,
        source -> Text,
    }
}

diesel::table! {
    shipments (order_id) {
        order_id -> Int8,
        carrier -> Nullable<Text>,
        tracking_url -> Nullable<Text>,
        staff_id -> Int8,
        shipped_at -> Timestamptz,
    }
}

diesel::table! {
    shipping_rate_prices (shipping_rate_id, currency) {
        shipping_rate_id -> Int8,
        currency -> Text,
        amount_minor -> Int8,
        free_over_minor -> Nullable<Int8>,
    }
}

diesel::table! {
    shipping_rates (id) {
        id -> Int8,
        display_name -> Text,
        min_business_days -> Nullable<Int4>,
        max_business_days -> Nullable<Int4>,
        active -> Bool,
        position -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    shop_settings (id) {
        id -> Bool,
        shipping_countries -> Array<Text>,
        automatic_tax -> Bool,
        prices_include_tax -> Bool,
        promotion_codes -> Bool,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    staff (id) {
        id -> Int8,
        email -> Text,
        password_hash -> Text,
        created_at -> Timestamptz,
        password_changed_at -> Timestamptz,
        last_sign_in_at -> Nullable<Timestamptz>,
        disabled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    staff_login_attempts (id) {
        id -> Int8,
        client -> Text,
        email -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    staff_sessions (token_hash) {
        token_hash -> Bytea,
        staff_id -> Int8,
        csrf_token -> Text,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
    }
}

diesel::table! {
    stock_adjustments (id) {
        id -> Int8,
        product_id -> Int8,
        staff_id -> Int8,
        delta -> Int4,
        reason -> Text,
        stock_after -> Nullable<Int4>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    search_terms (term) {
        term -> Text,
    }
}

diesel::table! {
    stripe_call_slots (bucket) {
        bucket -> Text,
        next_at -> Timestamptz,
    }
}

diesel::joinable!(api_delivery_attempts -> api_event_deliveries (delivery_id));
diesel::joinable!(api_event_deliveries -> api_events (event_id));
diesel::joinable!(api_event_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(api_idempotency -> api_keys (api_key_id));
diesel::joinable!(audit_log -> staff (staff_id));
diesel::joinable!(api_idempotency -> payments (payment_id));
diesel::joinable!(api_idempotency -> refunds (refund_id));
diesel::joinable!(cart_items -> carts (cart_id));
diesel::joinable!(cart_items -> products (product_id));
diesel::joinable!(collection_products -> collections (collection_id));
diesel::joinable!(collection_products -> products (product_id));
diesel::joinable!(debit_queue -> payments (payment_id));
diesel::joinable!(mail_outbox -> orders (order_id));
diesel::joinable!(order_checkouts -> orders (order_id));
diesel::joinable!(order_events -> orders (order_id));
diesel::joinable!(order_events -> staff (staff_id));
diesel::joinable!(order_issues -> orders (order_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(order_items -> products (product_id));
diesel::joinable!(order_shipping_options -> orders (order_id));
diesel::joinable!(order_shipping_options -> shipping_rates (shipping_rate_id));
diesel::joinable!(orders -> carts (cart_id));
diesel::joinable!(payments -> accounts (account_id));
diesel::joinable!(payments -> orders (order_id));
diesel::joinable!(refunds -> orders (order_id));
diesel::joinable!(refunds -> staff (staff_id));
diesel::joinable!(shipments -> orders (order_id));
diesel::joinable!(shipments -> staff (staff_id));
diesel::joinable!(shipping_rate_prices -> shipping_rates (shipping_rate_id));
diesel::joinable!(staff_sessions -> staff (staff_id));
diesel::joinable!(stock_adjustments -> products (product_id));
diesel::joinable!(stock_adjustments -> staff (staff_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    api_delivery_attempts,
    api_event_deliveries,
    api_events,
    api_idempotency,
    api_keys,
    audit_log,
    cart_items,
    carts,
    collection_products,
    collections,
    debit_queue,
    mail_outbox,
    order_checkouts,
    order_events,
    order_issues,
    order_items,
    order_shipping_options,
    orders,
    orders_link_requests,
    payments,
    products,
    refunds,
    search_terms,
    shipments,
    shipping_rate_prices,
    shipping_rates,
    shop_settings,
    staff,
    staff_login_attempts,
    staff_sessions,
    stock_adjustments,
    stripe_call_slots,
    stripe_events,
    webhook_endpoints,
);

diesel::table! {
    stripe_events (id) {
        id -> Text,
        #[sql_name = "type"]
        kind -> Text,
        processed_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        url -> Text,
        enabled_events -> Array<Text>,
        secret -> Text,
        description -> Nullable<Text>,
        disabled -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}
