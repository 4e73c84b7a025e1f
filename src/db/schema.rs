// @generated shape of migrations/, checked in (`diesel print-schema` output).

diesel::table! {
    cart_items (id) {
        id -> Int8,
        cart_id -> Uuid,
        product_id -> Int8,
        quantity -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    carts (id) {
        id -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
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
    }
}

diesel::joinable!(cart_items -> carts (cart_id));
diesel::joinable!(cart_items -> products (product_id));

diesel::allow_tables_to_appear_in_same_query!(cart_items, carts, products);
