//! The sample catalog: loaded into a fresh private database on first start and
//! by `storefront seed`. Idempotent: products and collections are matched by
//! slug, and what exists is kept as it is.

use anyhow::Context;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::config::Secret;
use crate::db::schema::{collection_products, collections, products};

struct SeedProduct {
    slug: &'static str,
    name: &'static str,
    description: &'static str,
    price_minor: i64,
    stock: Option<i32>,
    active: bool,
}

const CATALOG: &[SeedProduct] = &[
    SeedProduct {
        slug: "aurora-ceramic-mug",
        name: "Aurora Ceramic Mug",
        description: "A hand-glazed 350 ml stoneware mug whose swirl of greens and violets is never quite the same twice. Dishwasher and microwave safe.",
        price_minor: 2400,
        stock: Some(40),
        active: true,
    },
    SeedProduct {
        slug: "field-notes-journal",
        name: "Field Notes Journal",
        description: "A pocket journal with 96 dot-grid pages of 100 gsm paper, a lay-flat binding and an elastic band to keep it shut in your bag.",
        price_minor: 1450,
        stock: None,
        active: true,
    },
    SeedProduct {
        slug: "merino-wool-beanie",
        name: "Merino Wool Beanie",
        description: "Soft, itch-free merino in a classic ribbed knit. Warm on cold mornings, breathable on the walk home.",
        price_minor: 3200,
        stock: Some(25),
        active: true,
    },
    SeedProduct {
        slug: "walnut-desk-organizer",
        name: "Walnut Desk Organizer",
        description: "Solid walnut, oiled by hand, with slots for pens, cards and your phone. Brings calm to a busy desk.",
        price_minor: 6800,
        stock: Some(12),
        active: true,
    },
    SeedProduct {
        slug: "canvas-tote-bag",
        name: "Canvas Tote Bag",
        description: "Heavy 16 oz cotton canvas with leather-reinforced straps and an inside pocket. Carries a week of groceries.",
        price_minor: 2800,
        stock: None,
        active: true,
    },
    SeedProduct {
        slug: "pour-over-coffee-set",
        name: "Pour-Over Coffee Set",
        description: "A porcelain dripper, a 600 ml glass carafe and a gooseneck kettle: everything for a slow, clear cup.",
        price_minor: 8900,
        stock: Some(8),
        active: true,
    },
    SeedProduct {
        slug: "linen-throw-blanket",
        name: "Linen Throw Blanket",
        description: "Stonewashed European linen, 130 × 170 cm, with a knotted fringe. Light in summer, layered in winter.",
        price_minor: 11900,
        stock: Some(15),
        active: true,
    },
    SeedProduct {
        slug: "brass-bottle-opener",
        name: "Brass Bottle Opener",
        description: "Machined from a single piece of solid brass; it develops a warm patina with use.",
        price_minor: 1800,
        stock: None,
        active: true,
    },
    SeedProduct {
        slug: "botanical-print-set",
        name: "Botanical Print Set",
        description: "Three A4 giclée prints of pressed leaves on archival cotton paper, ready to frame.",
        price_minor: 4500,
        stock: Some(30),
        active: true,
    },
    SeedProduct {
        slug: "trail-water-bottle",
        name: "Trail Water Bottle",
        description: "A double-walled 750 ml steel bottle that keeps water cold for 24 hours. Our last few from this batch.",
        price_minor: 3500,
        stock: Some(3),
        active: true,
    },
    SeedProduct {
        slug: "scented-soy-candle",
        name: "Scented Soy Candle",
        description: "Cedar, fig and a hint of smoke, hand-poured in an amber glass jar. Burns for about 50 hours.",
        price_minor: 2200,
        stock: Some(0),
        active: true,
    },
    SeedProduct {
        slug: "digital-gift-card",
        name: "Digital Gift Card",
        description: "A gift card for anything in the shop, sent by email within the hour with a personal message. Nothing to ship.",
        price_minor: 2500,
        stock: None,
        active: true,
    },
    SeedProduct {
        slug: "enamel-camp-pin",
        name: "Enamel Camp Pin",
        description: "A hard-enamel pin of a tent under the mountains. Retired from the catalog.",
        price_minor: 900,
        stock: None,
        active: false,
    },
];

/// Products that need no shipping (delivered by email): checking out only
/// these asks for no address.
const NOT_SHIPPED: &[&str] = &["digital-gift-card"];

/// The sample collections: slug, name, description, and their products.
const COLLECTIONS: &[(&str, &str, &str, &[&str])] = &[
    (
        "kitchen",
        "Kitchen",
        "Mugs, coffee gear and the tools you reach for every morning.",
        &[
            "aurora-ceramic-mug",
            "pour-over-coffee-set",
            "brass-bottle-opener",
        ],
    ),
    (
        "desk",
        "Desk",
        "Paper, wood and a little order for the place you work.",
        &[
            "field-notes-journal",
            "walnut-desk-organizer",
            "botanical-print-set",
            "aurora-ceramic-mug",
        ],
    ),
    (
        "outdoors",
        "Outdoors",
        "Made for the trail, the campsite and the walk home.",
        &[
            "trail-water-bottle",
            "merino-wool-beanie",
            "canvas-tote-bag",
            "enamel-camp-pin",
        ],
    ),
    (
        "home",
        "Home",
        "Linen, light and things that make a room feel lived in.",
        &[
            "linen-throw-blanket",
            "scented-soy-candle",
            "botanical-print-set",
            "aurora-ceramic-mug",
        ],
    ),
];

/// Inserts the catalog's products and collections that are missing; returns
/// how many products were new.
pub async fn load(url: &Secret) -> anyhow::Result<usize> {
    let mut conn = crate::db::connect(url)
        .await
        .context("connecting to PostgreSQL to seed the catalog")?;
    let rows: Vec<_> = CATALOG
        .iter()
        .map(|p| {
            (
                products::slug.eq(p.slug),
                products::name.eq(p.name),
                products::description.eq(p.description),
                products::price_minor.eq(p.price_minor),
                products::currency.eq("USD"),
                products::image_path.eq(format!("img/products/{}.svg", p.slug)),
                products::stock.eq(p.stock),
                products::active.eq(p.active),
                products::requires_shipping.eq(!NOT_SHIPPED.contains(&p.slug)),
            )
        })
        .collect();
    let inserted = diesel::insert_into(products::table)
        .values(rows)
        .on_conflict(products::slug)
        .do_nothing()
        .execute(&mut conn)
        .await
        .context("inserting the seed catalog")?;
    let rows: Vec<_> = COLLECTIONS
        .iter()
        .zip(0..)
        .map(|((slug, name, description, _), position)| {
            (
                collections::slug.eq(slug),
                collections::name.eq(name),
                collections::description.eq(description),
                collections::position.eq(position),
            )
        })
        .collect();
    diesel::insert_into(collections::table)
        .values(rows)
        .on_conflict(collections::slug)
        .do_nothing()
        .execute(&mut conn)
        .await
        .context("inserting the seed collections")?;
    for (slug, _, _, members) in COLLECTIONS {
        let collection: i64 = collections::table
            .filter(collections::slug.eq(slug))
            .select(collections::id)
            .first(&mut conn)
            .await?;
        diesel::insert_into(collection_products::table)
            .values(
                products::table
                    .filter(products::slug.eq_any(*members))
                    .select((
                        collection.into_sql::<diesel::sql_types::BigInt>(),
                        products::id,
                    )),
            )
            .into_columns((
                collection_products::collection_id,
                collection_products::product_id,
            ))
            .on_conflict_do_nothing()
            .execute(&mut conn)
            .await
            .context("filling the seed collections")?;
    }
    Ok(inserted)
}

/// `storefront seed --products N`: the sample catalog, then `count`
/// generated products in its collections; returns how many were new.
pub async fn load_generated(url: &Secret, count: u64) -> anyhow::Result<usize> {
    load(url).await?;
    let mut conn = crate::db::connect(url)
        .await
        .context("connecting to PostgreSQL to generate products")?;
    crate::catalog::generate::generate(&mut conn, count).await
}

/// Seeds a database that has no products yet (a fresh development database).
pub async fn load_if_empty(url: &Secret) -> anyhow::Result<()> {
    let mut conn = crate::db::connect(url).await?;
    let count: i64 = products::table.count().get_result(&mut conn).await?;
    if count == 0 {
        let inserted = load(url).await?;
        tracing::info!(products = inserted, "loaded the seed catalog");
    }
    Ok(())
}
