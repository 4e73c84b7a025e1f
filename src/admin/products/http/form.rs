//! The product form as posted: `multipart/form-data` (it carries an image),
//! read field by field with limits, its CSRF token checked like every form's.

use actix_multipart::Multipart;
use actix_web::HttpRequest;
use futures_util::TryStreamExt;

use crate::admin::products::domain::ProductInput;
use crate::media::domain::{ImageError, MAX_UPLOAD_BYTES};
use crate::web::{AppError, csrf_matches, csrf_refused};

/// Longest text field we read.
const MAX_FIELD_BYTES: usize = 16 * 1024;
/// Most fields a product form may have.
const MAX_FIELDS: usize = 20;

/// The form's fields, and its image if one was chosen.
pub struct ProductUpload {
    pub input: ProductInput,
    pub image: Option<Vec<u8>>,
    /// An image refused before it was read whole (too large).
    pub image_error: Option<ImageError>,
}

fn unreadable() -> AppError {
    AppError::BadRequest("We could not read that form. Please try again.".into())
}

/// Reads the form. The image is read last (the form puts it last): one
/// over the limit ends the reading there, its rest unread.
pub async fn read(req: &HttpRequest, mut multipart: Multipart) -> Result<ProductUpload, AppError> {
    let mut input = ProductInput::default();
    let mut csrf_token = String::new();
    let mut image = None;
    let mut image_error = None;
    let mut fields = 0;
    // A body that is not a multipart form at all carries no token: 403.
    let first = multipart.try_next().await.map_err(|_| csrf_refused())?;
    let mut next = first;
    while let Some(mut field) = next.take() {
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(unreadable());
        }
        let name = field.name().unwrap_or_default().to_owned();
        if name == "image" {
            match field.bytes(MAX_UPLOAD_BYTES).await {
                Ok(Ok(bytes)) if !bytes.is_empty() => image = Some(bytes.to_vec()),
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return Err(unreadable()),
                Err(_) => {
                    image_error = Some(ImageError::TooLarge);
                    break;
                }
            }
            // A field must be done with before the next one is read.
            drop(field);
            next = multipart.try_next().await.map_err(|_| unreadable())?;
            continue;
        }
        let value = match field.bytes(MAX_FIELD_BYTES).await {
            Ok(Ok(bytes)) => String::from_utf8(bytes.to_vec()).map_err(|_| unreadable())?,
            _ => return Err(unreadable()),
        };
        match name.as_str() {
            "csrf_token" => csrf_token = value,
            "name" => input.name = value,
            "slug" => input.slug = value,
            "description" => input.description = value,
            "price" => input.price = value,
            "currency" => input.currency = value,
            "stock" => input.stock = value,
            "unlimited" => input.unlimited = true,
            "active" => input.active = true,
            // Other fields are ignored, as in every form.
            _ => {}
        }
        drop(field);
        next = multipart.try_next().await.map_err(|_| unreadable())?;
    }
    // Nothing is stored before the token is checked.
    if !csrf_matches(req, &csrf_token).await {
        return Err(csrf_refused());
    }
    Ok(ProductUpload {
        input,
        image,
        image_error,
    })
}
