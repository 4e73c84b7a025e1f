//! `storefront seed --products N`: N plausible products for benchmarks and
//! demos, made deterministically from word lists (the same N gives the same
//! products on every machine), in the sample collections, inserted a
//! thousand to a statement. Generated products are numbered: running it
//! again adds only the numbers not there yet.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use super::store;
use crate::db::schema::{collections, products};

/// Rows per INSERT (nine parameters each, well under PostgreSQL's 65,535).
const BATCH: usize = 1000;

/// A kind of product: its name, the image it borrows from the sample
/// catalog, a typical price in cents, and its collections.
struct Kind {
    noun: &'static str,
    image: &'static str,
    price: i64,
    collections: &'static [&'static str],
}

const KINDS: &[Kind] = &[
    kind("Mug", "aurora-ceramic-mug", 2400, &["kitchen", "home"]),
    kind("Bowl", "aurora-ceramic-mug", 2800, &["kitchen"]),
    kind("Teapot", "pour-over-coffee-set", 5400, &["kitchen"]),
    kind("Carafe", "pour-over-coffee-set", 3900, &["kitchen"]),
    kind("Cutting Board", "walnut-desk-organizer", 4600, &["kitchen"]),
    kind("Bottle Opener", "brass-bottle-opener", 1800, &["kitchen"]),
    kind("Spoon Set", "brass-bottle-opener", 2600, &["kitchen"]),
    kind(
        "Tea Towel",
        "linen-throw-blanket",
        1600,
        &["kitchen", "home"],
    ),
    kind("Notebook", "field-notes-journal", 1450, &["desk"]),
    kind("Journal", "field-notes-journal", 2200, &["desk"]),
    kind("Pen Holder", "walnut-desk-organizer", 2900, &["desk"]),
    kind("Desk Organizer", "walnut-desk-organizer", 6800, &["desk"]),
    kind(
        "Desk Lamp",
        "walnut-desk-organizer",
        8900,
        &["desk", "home"],
    ),
    kind("Print", "botanical-print-set", 3500, &["desk", "home"]),
    kind("Letter Tray", "walnut-desk-organizer", 3200, &["desk"]),
    kind("Wall Clock", "botanical-print-set", 5900, &["home"]),
    kind("Water Bottle", "trail-water-bottle", 3500, &["outdoors"]),
    kind("Beanie", "merino-wool-beanie", 3200, &["outdoors"]),
    kind("Tote Bag", "canvas-tote-bag", 2800, &["outdoors"]),
    kind("Lantern", "scented-soy-candle", 4900, &["outdoors", "home"]),
    kind("Camp Pin", "enamel-camp-pin", 900, &["outdoors"]),
    kind("Backpack", "canvas-tote-bag", 9800, &["outdoors"]),
    kind(
        "Camp Cup",
        "aurora-ceramic-mug",
        1900,
        &["outdoors", "kitchen"],
    ),
    kind("Scarf", "merino-wool-beanie", 4200, &["outdoors"]),
    kind("Throw Blanket", "linen-throw-blanket", 11900, &["home"]),
    kind("Candle", "scented-soy-candle", 2200, &["home"]),
    kind("Vase", "aurora-ceramic-mug", 3800, &["home"]),
    kind("Cushion", "linen-throw-blanket", 4400, &["home"]),
    kind("Planter", "aurora-ceramic-mug", 3300, &["home", "outdoors"]),
    kind(
        "Serving Tray",
        "walnut-desk-organizer",
        5200,
        &["home", "kitchen"],
    ),
    kind("Basket", "canvas-tote-bag", 3600, &["home"]),
    kind("Mirror", "botanical-print-set", 7400, &["home"]),
];

const fn kind(
    noun: &'static str,
    image: &'static str,
    price: i64,
    collections: &'static [&'static str],
) -> Kind {
    Kind {
        noun,
        image,
        price,
        collections,
    }
}

const ADJECTIVES: &[&str] = &[
    "Sturdy",
    "Classic",
    "Hand-Thrown",
    "Waxed",
    "Folding",
    "Compact",
    "Rustic",
    "Everyday",
    "Heirloom",
    "Nordic",
    "Speckled",
    "Woven",
    "Slim",
    "Oversized",
    "Vintage",
    "Coastal",
];

const MATERIALS: &[&str] = &[
    "Oak",
    "Walnut",
    "Linen",
    "Ceramic",
    "Brass",
    "Copper",
    "Cotton",
    "Wool",
    "Leather",
    "Bamboo",
    "Cedar",
    "Stoneware",
    "Enamel",
    "Glass",
    "Steel",
    "Cork",
];

const FEATURES: &[&str] = &[
    "made in a small workshop and finished by hand",
    "built to be used every day for years",
    "with a quiet, matte finish that hides fingerprints",
    "light enough to carry, solid enough to last",
    "designed around the way you actually use it",
    "in a colour that sits well with wood and linen",
    "each one a little different from the next",
    "tested by our team for a full season before it reached the shop",
];

const CARE: &[&str] = &[
    "Wipe clean with a damp cloth.",
    "Dishwasher safe.",
    "Oil it now and then and it will outlive you.",
    "Hand wash in cool water.",
    "Ships in plastic-free packaging.",
    "Comes with a two-year guarantee.",
];

/// splitmix64: a few lines, the same numbers everywhere, forever.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn pick<T: Copy>(list: &[T], random: u64) -> T {
    list[(random % list.len() as u64) as usize]
}

/// Generated product number `n`.
struct Generated {
    slug: String,
    name: String,
    description: String,
    price_minor: i64,
    image_path: String,
    stock: Option<i32>,
    kind: &'static Kind,
}

fn product(n: u64) -> Generated {
    let r = |salt: u64| mix(n.wrapping_mul(31).wrapping_add(salt));
    let kind = &KINDS[(r(1) % KINDS.len() as u64) as usize];
    let (adjective, material) = (pick(ADJECTIVES, r(2)), pick(MATERIALS, r(3)));
    let name = format!("{adjective} {material} {}", kind.noun);
    let slug = format!("{}-{n}", name.to_lowercase().replace(' ', "-"));
    let description = format!(
        "A {} {} in {}, {}. {}",
        adjective.to_lowercase(),
        kind.noun.to_lowercase(),
        material.to_lowercase(),
        pick(FEATURES, r(4)),
        pick(CARE, r(5))
    );
    // 70% to 150% of the kind's price, ending in .95 (at least $4.95).
    let price = kind.price * (70 + (r(6) % 81) as i64) / 100;
    let price_minor = ((price / 100).max(5)) * 100 - 5;
    let stock = match r(7) % 20 {
        0 => Some(0),
        1..=4 => None,
        s => Some(i32::try_from(s * 7 % 150).unwrap_or(1) + 1),
    };
    Generated {
        slug,
        name,
        description,
        price_minor,
        image_path: format!("img/products/{}.svg", kind.image),
        stock,
        kind,
    }
}

/// Adds generated products 1 to `count` that are not there yet, each in
/// its kind's collections (the sample catalog's, which must exist: seed it
/// first). Returns how many were added.
pub async fn generate(conn: &mut AsyncPgConnection, count: u64) -> anyhow::Result<usize> {
    let collection_ids: HashMap<String, i64> = collections::table
        .select((collections::slug, collections::id))
        .load(conn)
        .await?
        .into_iter()
        .collect();
    let now = Utc::now();
    let mut added = 0;
    let numbers: Vec<u64> = (1..=count).collect();
    for chunk in numbers.chunks(BATCH) {
        let generated: Vec<Generated> = chunk.iter().map(|n| product(*n)).collect();
        let rows: Vec<_> = generated
            .iter()
            .zip(chunk)
            .map(|(p, n)| {
                (
                    products::slug.eq(&p.slug),
                    products::name.eq(&p.name),
                    products::description.eq(&p.description),
                    products::price_minor.eq(p.price_minor),
                    products::currency.eq("USD"),
                    products::image_path.eq(&p.image_path),
                    products::stock.eq(p.stock),
                    // Spread over the past, the highest number newest.
                    products::created_at.eq(now - Duration::minutes((count - n) as i64)),
                )
            })
            .collect();
        let inserted: Vec<(i64, String)> = diesel::insert_into(products::table)
            .values(rows)
            .on_conflict(products::slug)
            .do_nothing()
            .returning((products::id, products::slug))
            .get_results(conn)
            .await?;
        added += inserted.len();
        let kinds: HashMap<&str, &Kind> = generated
            .iter()
            .map(|p| (p.slug.as_str(), p.kind))
            .collect();
        let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
        for (id, slug) in &inserted {
            let collections = kinds.get(slug.as_str()).map_or(&[][..], |k| k.collections);
            for collection in collections {
                if let Some(collection_id) = collection_ids.get(*collection) {
                    members.entry(*collection_id).or_default().push(*id);
                }
            }
        }
        for (collection_id, product_ids) in members {
            store::add_to_collection(conn, collection_id, &product_ids).await?;
        }
    }
    // Statistics for the new rows now, not when autovacuum gets to them:
    // search plans by how common each word is.
    conn.batch_execute("VACUUM ANALYZE products, collection_products, search_terms")
        .await?;
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_products_are_plausible_and_always_the_same() {
        let first = product(1);
        assert_eq!(first.name, product(1).name);
        assert_eq!(first.slug, product(1).slug);
        for n in 1..2000 {
            let p = product(n);
            assert!(p.slug.ends_with(&format!("-{n}")), "{}", p.slug);
            assert!(
                crate::ids::ProductSlug::parse(&p.slug).is_some(),
                "{}",
                p.slug
            );
            assert!(
                p.price_minor >= 495 && p.price_minor % 100 == 95,
                "{}",
                p.price_minor
            );
            assert!(p.stock.is_none_or(|s| (0..=151).contains(&s)));
            assert!(!p.kind.collections.is_empty());
        }
    }
}
