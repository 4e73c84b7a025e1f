//! Storing an uploaded image: sniffed, its size checked before it is
//! decoded, decoded with limits, scaled down to the display size, and
//! re-encoded in its own format (which also drops its metadata, such as a
//! photo's location), then kept under a name made of its content's hash.

use std::io::Cursor;
use std::path::Path;

use anyhow::Context;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

use super::domain::{DISPLAY_SIDE, ImageError, ImageKind, MAX_SIDE, MAX_UPLOAD_BYTES, fits};

/// Where an image is, as `products.image_path` records it: `uploads/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    pub path: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Refused(#[from] ImageError),
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

/// Checks, re-encodes and stores `bytes` under `dir`, on a blocking thread.
pub async fn store(dir: &Path, bytes: Vec<u8>) -> Result<StoredImage, StoreError> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let (encoded, kind) = reencode(&bytes)?;
        let name = format!(
            "{}.{}",
            hex::encode(&Sha256::digest(&encoded)[..16]),
            kind.extension()
        );
        save(&dir, &name, &encoded)?;
        Ok(StoredImage {
            path: format!("uploads/{name}"),
        })
    })
    .await
    .map_err(|e| StoreError::Io(e.into()))?
}

/// The image re-encoded in its format, scaled down to the display size.
pub fn reencode(bytes: &[u8]) -> Result<(Vec<u8>, ImageKind), ImageError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(ImageError::TooLarge);
    }
    let kind = ImageKind::sniff(bytes).ok_or(ImageError::NotAnImage)?;
    let format = match kind {
        ImageKind::Png => ImageFormat::Png,
        ImageKind::Jpeg => ImageFormat::Jpeg,
        ImageKind::Webp => ImageFormat::WebP,
    };
    // The header alone first (without the side limits, so that its size
    // can be told): a canvas too large is refused undecoded.
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|_| ImageError::Unreadable)?;
    if !fits(width, height) {
        return Err(ImageError::TooManyPixels { width, height });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // Room for the largest accepted canvas at 8 bytes a pixel.
    limits.max_alloc = Some(super::domain::MAX_PIXELS * 8);
    reader.limits(limits);
    let image = reader.decode().map_err(|_| ImageError::Unreadable)?;
    let image = if image.width() > DISPLAY_SIDE || image.height() > DISPLAY_SIDE {
        image.resize(
            DISPLAY_SIDE,
            DISPLAY_SIDE,
            image::imageops::FilterType::Triangle,
        )
    } else {
        image
    };
    let encoded = encode(&image, kind).map_err(|_| ImageError::Unreadable)?;
    Ok((encoded, kind))
}

fn encode(image: &DynamicImage, kind: ImageKind) -> image::ImageResult<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    match kind {
        ImageKind::Png => image.write_to(&mut out, ImageFormat::Png)?,
        ImageKind::Jpeg => {
            // JPEG has no alpha channel.
            let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
            rgb.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut out, 85,
            ))?;
        }
        ImageKind::Webp => {
            let rgba = DynamicImage::ImageRgba8(image.to_rgba8());
            rgba.write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))?;
        }
    }
    Ok(out.into_inner())
}

/// Writes the file whole (a temporary name, then a rename), unless an
/// identical one is there already.
fn save(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(name);
    if path.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let partial = dir.join(format!(".{name}.{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&partial, bytes).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::new_rgb8(width, height);
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn an_image_is_reencoded_and_scaled_down() {
        let (bytes, kind) = reencode(&png(2000, 1000)).unwrap();
        assert_eq!(kind, ImageKind::Png);
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (1600, 800));
        let (small, _) = reencode(&png(40, 30)).unwrap();
        let decoded = image::load_from_memory(&small).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (40, 30));
    }

    #[test]
    fn fakes_and_bombs_are_refused() {
        let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
        fake.extend_from_slice(b"<html><script>alert(1)</script></html>");
        assert_eq!(reencode(&fake), Err(ImageError::Unreadable));
        assert_eq!(reencode(b"<html></html>"), Err(ImageError::NotAnImage));
        assert_eq!(
            reencode(&vec![0xFF; MAX_UPLOAD_BYTES + 1]),
            Err(ImageError::TooLarge)
        );
    }
}
