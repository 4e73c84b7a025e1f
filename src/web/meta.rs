//! What a page tells search engines and link previews: its title and
//! description, canonical URL, neighbours in a paginated listing,
//! OpenGraph tags and schema.org JSON-LD.

use serde_json::Value;

#[derive(Debug, Clone, Default)]
pub struct PageMeta {
    pub title: String,
    pub description: String,
    /// Absolute: the shop's public origin and the page's path.
    pub canonical: String,
    /// Absolute, for previews.
    pub image: Option<String>,
    /// OpenGraph's type: `website`, `product`.
    pub og_type: &'static str,
    /// The neighbouring pages of a paginated listing.
    pub prev: Option<String>,
    pub next: Option<String>,
    /// Pages search engines should follow but not list (search results).
    pub noindex: bool,
    /// schema.org data, already safe inside a `<script>` element.
    pub json_ld: Option<String>,
}

/// At most this many characters of a description go into meta tags.
const DESCRIPTION_CHARS: usize = 160;

impl PageMeta {
    pub fn new(title: &str, description: &str, canonical: String) -> PageMeta {
        PageMeta {
            title: title.to_owned(),
            description: summary(description),
            canonical,
            og_type: "website",
            ..PageMeta::default()
        }
    }
}

/// The text cut at a word boundary to fit a meta description.
fn summary(text: &str) -> String {
    if text.chars().count() <= DESCRIPTION_CHARS {
        return text.to_owned();
    }
    let cut: String = text.chars().take(DESCRIPTION_CHARS - 1).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", cut.trim_end_matches([',', '.', ';', ':']))
}

/// JSON for a `<script type="application/ld+json">` element: `<`, `>` and
/// `&` escaped as JSON escapes, so no text can close the element (`</script>`)
/// or open a comment; the JSON means the same.
pub fn json_ld(value: &Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ld_cannot_close_its_script_element() {
        let value = serde_json::json!({"name": "</script><script>alert(1)</script> & <!--"});
        let text = json_ld(&value);
        assert!(!text.contains('<') && !text.contains('>'), "{text}");
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn long_descriptions_are_cut_at_a_word() {
        let long = "word ".repeat(100);
        let cut = summary(&long);
        assert!(cut.chars().count() <= DESCRIPTION_CHARS, "{cut}");
        assert!(cut.ends_with("word…"), "{cut}");
        assert_eq!(summary("Short."), "Short.");
    }
}
