//! The product pages of the back office: the list (search, tabs, pages),
//! the new-product and product pages, and their forms (the product's
//! fields and image; stock; archive, restore, delete).

mod form;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::domain::{
    AdminProduct, FieldErrors, ProductFilter, ProductInput, StockAdjustment, parse_change,
    parse_reason, parse_stock,
};
use super::edit::{self, ProductError, Removed};
use super::store::{self, Page};
use crate::admin::auth::domain::StaffSession;
use crate::admin::http::{AdminLayout, Section, link};
use crate::media::domain::ImageError;
use crate::money::Currency;
use crate::state::AppState;
use crate::web::{AppError, CsrfForm, FormResponse, rerender, see_other};

/// Products per page of the list.
const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    after: Option<i64>,
    before: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/products/index.html")]
pub struct ProductListPage {
    layout: AdminLayout,
    products: Vec<AdminProduct>,
    q: String,
    filter: ProductFilter,
    newer: Option<String>,
    older: Option<String>,
}

impl ProductListPage {
    fn tab_link(&self, filter: &ProductFilter) -> String {
        link(
            "/admin/products",
            &[("q", &self.q), ("status", filter.as_str())],
        )
    }
}

/// `GET /admin/products`.
pub async fn index(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    query: web::Query<ListQuery>,
) -> Result<ProductListPage, AppError> {
    let filter = ProductFilter::parse(&query.status).unwrap_or_default();
    let q = query.q.trim().chars().take(100).collect::<String>();
    let page = match (query.after, query.before) {
        (Some(after), _) => Page::After(after),
        (None, Some(before)) => Page::Before(before),
        _ => Page::First,
    };
    let search = (!q.is_empty()).then_some(q.as_str());
    let mut products =
        store::list(&mut *state.db.get().await?, filter, search, page, PAGE_SIZE).await?;
    let more = products.len() > usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    if more {
        match page {
            Page::Before(_) => drop(products.remove(0)),
            _ => drop(products.pop()),
        }
    }
    let page_link = |key: &str, id: i64| {
        link(
            "/admin/products",
            &[
                ("q", &q),
                ("status", filter.as_str()),
                (key, &id.to_string()),
            ],
        )
    };
    // Going back, there is a later page; going on, an earlier one.
    let has_older = more || matches!(page, Page::Before(_));
    let has_newer = match page {
        Page::First => false,
        Page::After(_) => true,
        Page::Before(_) => more,
    };
    let older = has_older
        .then(|| products.last().map(|p| page_link("after", p.id)))
        .flatten();
    let newer = has_newer
        .then(|| products.first().map(|p| page_link("before", p.id)))
        .flatten();
    Ok(ProductListPage {
        layout: AdminLayout::new(&state, &staff, Section::Products, &req).await?,
        products,
        q,
        filter,
        newer,
        older,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/products/form.html")]
pub struct ProductPage {
    layout: AdminLayout,
    /// `None` for a new product.
    product: Option<AdminProduct>,
    input: ProductInput,
    errors: FieldErrors,
    /// The stock forms' message, and what was typed in them.
    stock_error: Option<String>,
    change: String,
    reason: String,
    adjustments: Vec<StockAdjustment>,
    /// Order lines naming the product (it cannot be deleted then).
    order_lines: i64,
}

impl ProductPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }

    fn currencies(&self) -> [Currency; 4] {
        Currency::ALL
    }

    fn currency_selected(&self, currency: &Currency) -> bool {
        self.input.currency.eq_ignore_ascii_case(currency.code())
    }

    async fn new(
        state: &AppState,
        staff: &StaffSession,
        req: &HttpRequest,
        product: Option<AdminProduct>,
    ) -> Result<ProductPage, AppError> {
        let (input, adjustments, order_lines) = match &product {
            Some(product) => {
                let mut conn = state.db.get().await?;
                (
                    ProductInput {
                        name: product.name.clone(),
                        slug: product.slug.clone(),
                        description: product.description.clone(),
                        price: product.price().decimal(),
                        currency: product.currency().code().to_owned(),
                        stock: String::new(),
                        unlimited: product.stock.is_none(),
                        active: product.active,
                    },
                    store::adjustments(&mut conn, product.id, 20).await?,
                    store::order_lines(&mut conn, product.id).await?,
                )
            }
            None => (
                ProductInput {
                    currency: "USD".into(),
                    stock: "0".into(),
                    active: true,
                    ..ProductInput::default()
                },
                Vec::new(),
                0,
            ),
        };
        Ok(ProductPage {
            layout: AdminLayout::new(state, staff, Section::Products, req).await?,
            product,
            input,
            errors: FieldErrors::new(),
            stock_error: None,
            change: String::new(),
            reason: String::new(),
            adjustments,
            order_lines,
        })
    }
}

fn product_not_found() -> AppError {
    AppError::NotFound("That product doesn't exist (it may have been deleted).".into())
}

async fn existing(state: &AppState, id: i64) -> Result<AdminProduct, AppError> {
    store::find(&mut *state.db.get().await?, id)
        .await?
        .ok_or_else(product_not_found)
}

/// `GET /admin/products/new`.
pub async fn new_page(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
) -> Result<ProductPage, AppError> {
    ProductPage::new(&state, &staff, &req, None).await
}

/// `GET /admin/products/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    id: web::Path<i64>,
) -> Result<ProductPage, AppError> {
    let product = existing(&state, *id).await?;
    ProductPage::new(&state, &staff, &req, Some(product)).await
}

/// The product form again, with what was typed and what is wrong.
async fn form_again(
    state: &AppState,
    staff: &StaffSession,
    req: &HttpRequest,
    product: Option<AdminProduct>,
    input: ProductInput,
    error: ProductError,
) -> FormResponse<ProductPage> {
    let (errors, status) = match error {
        ProductError::Invalid(errors) => {
            let status = if errors.get("image").map(String::as_str)
                == Some(&ImageError::TooLarge.to_string())
            {
                StatusCode::PAYLOAD_TOO_LARGE
            } else if errors
                .get("slug")
                .is_some_and(|m| m.starts_with("Another product"))
            {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            (errors, status)
        }
        ProductError::NotFound => return Err(product_not_found()),
        ProductError::StockOutOfRange { .. } => {
            return Err(AppError::Unexpected(anyhow::anyhow!(
                "a product form changed stock"
            )));
        }
        ProductError::Database(error) => return Err(error.into()),
        ProductError::Unexpected(error) => return Err(error.into()),
    };
    let mut page = ProductPage::new(state, staff, req, product).await?;
    page.input = input;
    page.errors = errors;
    rerender(page, status)
}

/// `POST /admin/products` (multipart): a new product.
pub async fn create(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    multipart: Multipart,
) -> FormResponse<ProductPage> {
    let upload = form::read(&req, multipart).await?;
    if let Some(error) = upload.image_error {
        let error = ProductError::Invalid(FieldErrors::from([("image", error.to_string())]));
        return form_again(&state, &staff, &req, None, upload.input, error).await;
    }
    match edit::create(
        &state.db,
        &staff,
        &upload.input,
        upload.image,
        &state.upload_dir,
    )
    .await
    {
        Ok(product) => see_other(format!(
            "/admin/products/{}?notice=product-created",
            product.id
        )),
        Err(error) => form_again(&state, &staff, &req, None, upload.input, error).await,
    }
}

/// `POST /admin/products/{id}` (multipart): the product's fields and image.
pub async fn update(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    id: web::Path<i64>,
    multipart: Multipart,
) -> FormResponse<ProductPage> {
    let upload = form::read(&req, multipart).await?;
    let product = existing(&state, *id).await?;
    let result = match upload.image_error {
        Some(error) => Err(ProductError::Invalid(FieldErrors::from([(
            "image",
            error.to_string(),
        )]))),
        None => {
            edit::update(
                &state.db,
                &staff,
                *id,
                &upload.input,
                upload.image,
                &state.upload_dir,
            )
            .await
        }
    };
    match result {
        Ok(product) => see_other(format!(
            "/admin/products/{}?notice=product-saved",
            product.id
        )),
        Err(error) => {
            let mut input = upload.input;
            // The stock is not part of this form.
            input.unlimited = product.stock.is_none();
            form_again(&state, &staff, &req, Some(product), input, error).await
        }
    }
}

#[derive(Deserialize)]
pub struct StockForm {
    #[serde(default)]
    change: String,
    #[serde(default)]
    reason: String,
}

/// The product page again, with a message by its stock forms.
async fn stock_again(
    state: &AppState,
    staff: &StaffSession,
    req: &HttpRequest,
    product: AdminProduct,
    form: &StockForm,
    message: String,
    status: StatusCode,
) -> FormResponse<ProductPage> {
    let mut page = ProductPage::new(state, staff, req, Some(product)).await?;
    page.stock_error = Some(message);
    page.change = form.change.clone();
    page.reason = form.reason.clone();
    rerender(page, status)
}

/// `POST /admin/products/{id}/stock`: add or remove units, with a reason.
pub async fn change_stock(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<StockForm>,
) -> FormResponse<ProductPage> {
    let product = existing(&state, *id).await?;
    let checked =
        parse_change(&form.change).and_then(|c| parse_reason(&form.reason).map(|r| (c, r)));
    let (change, reason) = match checked {
        Ok(checked) => checked,
        Err(message) => {
            return stock_again(
                &state,
                &staff,
                &req,
                product,
                &form,
                message,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    match edit::change_stock(&state.db, &staff, *id, change.delta, &reason).await {
        Ok(_) => see_other(format!("/admin/products/{}?notice=stock-adjusted", *id)),
        Err(ProductError::StockOutOfRange { stock: None }) => {
            let message = "This product's stock is unlimited: track its stock first.".to_owned();
            stock_again(
                &state,
                &staff,
                &req,
                product,
                &form,
                message,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(ProductError::StockOutOfRange { stock: Some(stock) }) => {
            let message = if change.delta < 0 {
                format!(
                    "Only {stock} left (units in pending orders are already taken off): you can remove at most {stock}."
                )
            } else {
                format!(
                    "Stock goes up to {}: you can add at most {}.",
                    super::domain::MAX_STOCK,
                    super::domain::MAX_STOCK - stock
                )
            };
            stock_again(
                &state,
                &staff,
                &req,
                product,
                &form,
                message,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(ProductError::NotFound) => Err(product_not_found()),
        Err(ProductError::Database(error)) => Err(error.into()),
        Err(error) => Err(AppError::Unexpected(error.into())),
    }
}

#[derive(Deserialize)]
pub struct TrackingForm {
    /// `unlimited`, or `track` with `change` as the starting stock.
    #[serde(default)]
    mode: String,
    #[serde(flatten)]
    stock: StockForm,
}

/// `POST /admin/products/{id}/tracking`: unlimited stock, or tracked from a count.
pub async fn set_tracking(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<TrackingForm>,
) -> FormResponse<ProductPage> {
    let product = existing(&state, *id).await?;
    let start = match form.mode.as_str() {
        "unlimited" => Ok(None),
        "track" => parse_stock(&form.stock.change).map(Some),
        _ => Err("Choose unlimited or tracked stock.".to_owned()),
    };
    let checked = start.and_then(|start| parse_reason(&form.stock.reason).map(|r| (start, r)));
    match checked {
        Ok((start, reason)) => {
            match edit::set_tracking(&state.db, &staff, *id, start, &reason).await {
                Ok(()) => see_other(format!("/admin/products/{}?notice=stock-adjusted", *id)),
                Err(ProductError::NotFound) => Err(product_not_found()),
                Err(ProductError::Database(error)) => Err(error.into()),
                Err(error) => Err(AppError::Unexpected(error.into())),
            }
        }
        Err(message) => {
            stock_again(
                &state,
                &staff,
                &req,
                product,
                &form.stock,
                message,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

fn done(id: i64, result: Result<&'static str, ProductError>) -> FormResponse<ProductPage> {
    match result {
        Ok(notice) => see_other(format!("/admin/products/{id}?notice={notice}")),
        Err(ProductError::NotFound) => Err(product_not_found()),
        Err(ProductError::Database(error)) => Err(error.into()),
        Err(error) => Err(AppError::Unexpected(error.into())),
    }
}

/// `POST /admin/products/{id}/archive`.
pub async fn archive(
    state: web::Data<AppState>,
    staff: StaffSession,
    id: web::Path<i64>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> FormResponse<ProductPage> {
    let result = edit::archive(&state.db, &staff, *id).await;
    done(*id, result.map(|()| "product-archived"))
}

/// `POST /admin/products/{id}/restore`.
pub async fn restore(
    state: web::Data<AppState>,
    staff: StaffSession,
    id: web::Path<i64>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> FormResponse<ProductPage> {
    let result = edit::restore(&state.db, &staff, *id).await;
    done(*id, result.map(|()| "product-restored"))
}

/// `POST /admin/products/{id}/delete`: deleted, or archived if orders name it.
pub async fn delete(
    state: web::Data<AppState>,
    staff: StaffSession,
    id: web::Path<i64>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> FormResponse<ProductPage> {
    match edit::delete(&state.db, &staff, *id).await {
        Ok(Removed::Deleted) => see_other("/admin/products?notice=product-deleted"),
        Ok(Removed::Archived) => see_other(format!("/admin/products/{}?notice=product-kept", *id)),
        Err(error) => done(*id, Err(error)),
    }
}
