//! What shoppers put in catalog URLs: the query string of listings and
//! search, read strictly (invalid UTF-8, a NUL byte, a repeated parameter or
//! an over-long value is refused, never passed on), and the search text
//! turned into words that are safe in a full-text query.

use std::collections::HashMap;

use percent_encoding::percent_decode;

use super::domain::Sort;
use super::paging::{Cursor, Position, SearchCursor};

/// The longest search a shopper may type, in characters.
pub const MAX_QUERY_CHARS: usize = 100;
/// Words of a search beyond these are ignored.
const MAX_WORDS: usize = 8;
/// The longest value of any other parameter (a cursor is 23 characters).
const MAX_VALUE_BYTES: usize = 64;

/// Why a catalog URL was refused: shown to the shopper with a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadQuery {
    #[error("That link is not valid.")]
    Malformed,
    #[error("That link to a page of results is not valid or has expired.")]
    Cursor,
    #[error("Please search for at most {MAX_QUERY_CHARS} characters.")]
    TooLong,
    #[error("That search contains characters we can't look for.")]
    Control,
}

/// The decoded parameters of a query string, each at most once.
struct Params(HashMap<String, String>);

impl Params {
    fn parse(raw: &str) -> Result<Params, BadQuery> {
        let mut params = HashMap::new();
        for pair in raw.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (name, value) = (decode(name)?, decode(value)?);
            if params.insert(name, value).is_some() {
                return Err(BadQuery::Malformed);
            }
        }
        Ok(Params(params))
    }

    /// A parameter other than the search text: short, no control characters.
    fn short(&self, name: &str) -> Result<Option<&str>, BadQuery> {
        match self.0.get(name) {
            Some(value) if value.len() > MAX_VALUE_BYTES || value.contains(char::is_control) => {
                Err(BadQuery::Malformed)
            }
            value => Ok(value.map(String::as_str).filter(|v| !v.is_empty())),
        }
    }
}

/// `+` is a space in a query string; `%XX` a byte; the result must be UTF-8.
fn decode(raw: &str) -> Result<String, BadQuery> {
    let spaced = raw.replace('+', " ");
    percent_decode(spaced.as_bytes())
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| BadQuery::Malformed)
}

/// `?sort=…&after=…` or `&before=…` on a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingQuery {
    pub sort: Sort,
    pub position: Position,
}

impl ListingQuery {
    pub fn parse(raw: &str) -> Result<ListingQuery, BadQuery> {
        let params = Params::parse(raw)?;
        let sort = match params.short("sort")? {
            Some(sort) => Sort::parse(sort).ok_or(BadQuery::Malformed)?,
            None => Sort::default(),
        };
        let cursor = |raw: &str| Cursor::parse(raw, sort).ok_or(BadQuery::Cursor);
        let position = match (params.short("after")?, params.short("before")?) {
            (None, None) => Position::First,
            (Some(after), None) => Position::After(cursor(after)?),
            (None, Some(before)) => Position::Before(cursor(before)?),
            (Some(_), Some(_)) => return Err(BadQuery::Cursor),
        };
        Ok(ListingQuery { sort, position })
    }

    /// The query string of the page after or before a cursor.
    pub fn link(sort: Sort, position: Position) -> String {
        let mut params = Vec::new();
        if sort != Sort::default() {
            params.push(format!("sort={}", sort.param()));
        }
        match position {
            Position::First => {}
            Position::After(cursor) => params.push(format!("after={}", cursor.encode())),
            Position::Before(cursor) => params.push(format!("before={}", cursor.encode())),
        }
        if params.is_empty() {
            String::new()
        } else {
            format!("?{}", params.join("&"))
        }
    }
}

/// `/search?q=…&after=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// As typed (trimmed), to show back in the search box.
    pub text: String,
    pub words: Vec<String>,
    pub after: Option<SearchCursor>,
}

impl SearchQuery {
    pub fn parse(raw: &str) -> Result<SearchQuery, BadQuery> {
        let params = Params::parse(raw)?;
        let text = params.0.get("q").map_or("", |q| q.trim());
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(BadQuery::TooLong);
        }
        // Other control characters are only separators; a NUL never
        // belongs in a search (PostgreSQL refuses it in text).
        if text.contains('\0') {
            return Err(BadQuery::Control);
        }
        let after = match params.short("after")? {
            Some(after) => Some(SearchCursor::parse(after).ok_or(BadQuery::Cursor)?),
            None => None,
        };
        Ok(SearchQuery {
            text: text.to_owned(),
            words: words(text),
            after,
        })
    }

    /// The query string of the page after `cursor`.
    pub fn next_link(&self, cursor: SearchCursor) -> String {
        let q: String = url_encode(&self.text);
        format!("?q={q}&after={}", cursor.encode())
    }
}

/// The search's words: lowercase runs of letters and digits, so that no
/// operator of PostgreSQL's query syntax ever reaches `to_tsquery`.
fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
    {
        if !words.contains(&word) && words.len() < MAX_WORDS {
            words.push(word);
        }
    }
    words
}

/// Percent-encodes a query parameter's value.
pub fn url_encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A search word as it goes into the full-text query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Letters and digits only.
    pub word: String,
    /// Also the words it begins: the last word of a search, being typed,
    /// unless it is a whole word of some product's name already.
    pub prefix: bool,
    /// Close words of product names, for a word in none (a typo).
    pub alternatives: Vec<String>,
}

/// A full-text query over `terms`, all of them required, each a quoted
/// lexeme OR'ed with its alternatives; restricted to names (weight A) with
/// `names_only`. The words hold only letters and digits, so quoting them
/// is enough.
pub fn tsquery(terms: &[Term], names_only: bool) -> String {
    let label = |prefix: bool| match (prefix, names_only) {
        (false, false) => "",
        (true, false) => ":*",
        (false, true) => ":A",
        (true, true) => ":*A",
    };
    terms
        .iter()
        .map(|term| {
            let lexemes: Vec<String> =
                std::iter::once(format!("'{}'{}", term.word, label(term.prefix)))
                    .chain(
                        term.alternatives
                            .iter()
                            .map(|alt| format!("'{alt}'{}", label(false))),
                    )
                    .collect();
            format!("({})", lexemes.join(" | "))
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_are_letters_and_digits_only() {
        let query = SearchQuery::parse("q=Ceramic+%27mug%27+%26+!x%3A*+%7C+(ceramic)").unwrap();
        assert_eq!(query.text, "Ceramic 'mug' & !x:* | (ceramic)");
        assert_eq!(query.words, ["ceramic", "mug", "x"]);
        assert_eq!(
            SearchQuery::parse("q=%C3%A9t%C3%A9").unwrap().words,
            ["été"]
        );
        assert!(SearchQuery::parse("").unwrap().words.is_empty());
    }

    #[test]
    fn bad_query_strings_are_refused() {
        let long = format!("q={}", "a".repeat(MAX_QUERY_CHARS + 1));
        for (raw, error) in [
            ("q=%FF", BadQuery::Malformed),
            ("q=a&q=b", BadQuery::Malformed),
            ("q=mug%00", BadQuery::Control),
            (long.as_str(), BadQuery::TooLong),
            ("q=mug&after=nope", BadQuery::Cursor),
        ] {
            assert_eq!(SearchQuery::parse(raw), Err(error), "{raw}");
        }
        for (raw, error) in [
            ("sort=cheapest", BadQuery::Malformed),
            ("after=zzz", BadQuery::Cursor),
            ("after=%00", BadQuery::Malformed),
            ("sort=%E0%A4", BadQuery::Malformed),
        ] {
            assert_eq!(ListingQuery::parse(raw), Err(error), "{raw}");
        }
        let listing = ListingQuery::parse("sort=price-desc&utm_source=x").unwrap();
        assert_eq!(listing.sort, Sort::PriceHigh);
        assert_eq!(listing.position, Position::First);
    }

    #[test]
    fn tsqueries_quote_words_with_their_alternatives() {
        let terms = vec![
            Term {
                word: "ceramc".to_owned(),
                prefix: false,
                alternatives: vec!["ceramic".to_owned()],
            },
            Term {
                word: "mu".to_owned(),
                prefix: true,
                alternatives: vec![],
            },
        ];
        assert_eq!(tsquery(&terms, false), "('ceramc' | 'ceramic') & ('mu':*)");
        assert_eq!(
            tsquery(&terms, true),
            "('ceramc':A | 'ceramic':A) & ('mu':*A)"
        );
    }
}
