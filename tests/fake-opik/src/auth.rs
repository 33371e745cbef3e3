//! Authentication, when a test asks for it ([`FakeOpik::require_auth`](crate::FakeOpik)): the
//! backend's auth filter, which runs before any resource, and the two endpoints of the spec's
//! `Check` tag that an SDK's healthcheck calls.
//!
//! Without `require_auth` the fake is an open-source Opik: every request is let through, and
//! the key's default workspace is `default`.

use serde_json::json;

use crate::backend::{Answer, Ctx, Store};

/// The key the server accepts and the workspaces it opens to it (the first is its default).
#[derive(Default)]
pub(crate) struct Auth {
    required: Option<Credentials>,
}

struct Credentials {
    api_key: String,
    workspaces: Vec<String>,
}

impl Auth {
    pub fn require(&mut self, api_key: &str, workspaces: &[&str]) {
        self.required = Some(Credentials {
            api_key: api_key.to_owned(),
            workspaces: workspaces.iter().map(|w| (*w).to_owned()).collect(),
        });
    }

    /// The refusal of a request to `path` with `headers`, if it is refused: 401 without the
    /// key (the backend's "User not allowed to access workspace"), 403 for a workspace the key
    /// has no access to. Only the API (`/v1/private/...`) is guarded, not `/is-alive`; the
    /// key's default workspace is answered whatever workspace the request names.
    pub fn refusal(&self, path: &str, headers: &[(String, String)]) -> Option<Answer> {
        let creds = self.required.as_ref()?;
        if !path.contains("/v1/private/") {
            return None;
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if header("authorization") != Some(creds.api_key.as_str()) {
            return Some(Answer::error(401, "User not allowed to access workspace"));
        }
        if path.ends_with("/v1/private/auth/workspace") {
            return None;
        }
        let workspace = header("comet-workspace").unwrap_or("");
        if !creds.workspaces.iter().any(|w| w == workspace) {
            return Some(Answer::error(
                403,
                "User has no permission to the workspace",
            ));
        }
        None
    }

    fn default_workspace(&self) -> &str {
        self.required
            .as_ref()
            .and_then(|c| c.workspaces.first())
            .map_or("default", String::as_str)
    }
}

/// `POST /v1/private/auth` (checkAccess): 204 once the filter let the request through.
pub(crate) fn check_access(_: &mut Store, _: &Ctx<'_>) -> Answer {
    Answer::empty(204)
}

/// `GET /v1/private/auth/workspace` (getWorkspaceName): the key's default workspace.
pub(crate) fn workspace_name(store: &mut Store, _: &Ctx<'_>) -> Answer {
    Answer::ok(json!({"workspace_name": store.auth.default_workspace()}))
}
