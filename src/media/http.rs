//! `GET /uploads/{name}`: uploaded images, under names made of their
//! content's hash, so browsers may keep them for a year.

use actix_files::NamedFile;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::ids::UploadName;
use crate::state::AppState;
use crate::web::AppError;

pub async fn serve(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let not_found = || AppError::NotFound("We couldn't find that image.".into());
    let name = UploadName::parse(&name).ok_or_else(not_found)?;
    // Opening a file is quick (its content is streamed later).
    let file = NamedFile::open(state.upload_dir.join(name.as_str())).map_err(|_| not_found())?;
    let mut response = file.use_last_modified(false).into_response(&req);
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}
