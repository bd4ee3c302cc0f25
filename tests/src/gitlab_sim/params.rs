//! Query parameters with Grape's coercions, and GitLab's offset-pagination headers.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Uri};

use super::api::ApiError;

/// GitLab stops counting above this many records: no `X-Total`, `X-Total-Pages` or `rel="last"`.
const MAX_COUNTED: usize = 10_000;
const DEFAULT_PER_PAGE: usize = 20;
const MAX_PER_PAGE: usize = 100;

/// The decoded query string; repeated keys (`refs[]=a&refs[]=b`) are kept.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let query = parts.uri.query().unwrap_or_default();
        Ok(Self {
            pairs: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        })
    }
}

impl Params {
    /// The last value wins, as in Rack.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A present, non-empty value.
    pub(crate) fn text(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.text(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(None),
            Some("true" | "1" | "t" | "yes" | "y") => Ok(Some(true)),
            Some("false" | "0" | "f" | "no" | "n") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid(key)),
        }
    }

    pub(crate) fn flag(&self, key: &str) -> Result<bool, ApiError> {
        Ok(self.bool(key)?.unwrap_or(false))
    }

    pub(crate) fn uint(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.text(key)
            .map(|v| v.trim().parse::<u64>().map_err(|_| ApiError::invalid(key)))
            .transpose()
    }

    /// An ISO 8601 time (`2021-01-01T00:00:00Z`, with offset, or a bare date) as unix seconds.
    pub(crate) fn time(&self, key: &str) -> Result<Option<i64>, ApiError> {
        use time::format_description::well_known::{Iso8601, Rfc3339};
        let Some(v) = self.text(key) else {
            return Ok(None);
        };
        let parsed = time::OffsetDateTime::parse(v, &Rfc3339)
            .or_else(|_| time::OffsetDateTime::parse(v, &Iso8601::DEFAULT))
            .map(time::OffsetDateTime::unix_timestamp)
            .or_else(|_| {
                time::Date::parse(
                    v,
                    &time::macros::format_description!("[year]-[month]-[day]"),
                )
                .map(|d| d.midnight().assume_utc().unix_timestamp())
            });
        parsed.map(Some).map_err(|_| ApiError::invalid(key))
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    pub page: usize,
    pub per_page: usize,
}

impl Page {
    pub(crate) fn from_params(p: &Params) -> Result<Self, ApiError> {
        let page = p.uint("page")?.map_or(1, |v| v.max(1) as usize);
        let per_page = match p.uint("per_page")? {
            None | Some(0) => DEFAULT_PER_PAGE,
            Some(n) => (n as usize).min(MAX_PER_PAGE),
        };
        Ok(Self { page, per_page })
    }

    pub(crate) fn offset(&self) -> usize {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// The page's slice of a fully known list, with its headers.
    pub(crate) fn cut<T: Copy>(&self, items: &[T], base: &str, uri: &Uri) -> (Vec<T>, HeaderMap) {
        let start = self.offset().min(items.len());
        let end = (start + self.per_page).min(items.len());
        let total = items.len();
        let headers = self.headers(
            base,
            uri,
            end < total,
            (total <= MAX_COUNTED).then_some(total),
        );
        (items[start..end].to_vec(), headers)
    }

    /// `X-Page`, `X-Per-Page`, `X-Next-Page`, `X-Prev-Page`, `Link`, and the totals when known.
    pub(crate) fn headers(
        &self,
        base: &str,
        uri: &Uri,
        has_next: bool,
        total: Option<usize>,
    ) -> HeaderMap {
        let mut h = HeaderMap::new();
        let next = has_next.then_some(self.page + 1);
        let prev = (self.page > 1).then_some(self.page - 1);
        let show = |v: Option<usize>| v.map(|n| n.to_string()).unwrap_or_default();
        let mut put = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        };
        put("x-page", self.page.to_string());
        put("x-per-page", self.per_page.to_string());
        put("x-next-page", show(next));
        put("x-prev-page", show(prev));
        let last = total.map(|t| t.div_ceil(self.per_page).max(1));
        if let (Some(t), Some(l)) = (total, last) {
            put("x-total", t.to_string());
            put("x-total-pages", l.to_string());
        }
        let mut links = Vec::new();
        for (rel, page) in [
            ("prev", prev),
            ("next", next),
            ("first", Some(1)),
            ("last", last),
        ] {
            if let Some(page) = page {
                links.push(format!("<{}>; rel=\"{rel}\"", page_url(base, uri, page)));
            }
        }
        put("link", links.join(", "));
        h
    }
}

/// The request's own URL with `page` replaced; other parameters keep their original encoding.
fn page_url(base: &str, uri: &Uri, page: usize) -> String {
    let mut pairs: Vec<String> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty() && *kv != "page" && !kv.starts_with("page="))
        .map(str::to_owned)
        .collect();
    pairs.push(format!("page={page}"));
    pairs.sort_by(|a, b| a.split('=').next().cmp(&b.split('=').next()));
    format!(
        "{}{}?{}",
        base.trim_end_matches('/'),
        uri.path(),
        pairs.join("&")
    )
}
