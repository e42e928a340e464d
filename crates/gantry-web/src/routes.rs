//! The interface's routes, recorded as they are added: the same list builds the router and
//! the route table (`gantry admin routes`, the access matrix, the docs check), so the table
//! cannot drift from what the server answers.

use axum::handler::Handler;
use axum::routing::{get, post, MethodRouter};
use axum::Router;

use crate::WebState;

pub(crate) struct Routes {
    pub(crate) router: Router<WebState>,
    pub(crate) table: Vec<(&'static str, &'static str)>,
}

impl Routes {
    pub(crate) fn new() -> Self {
        Self {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    fn add(
        mut self,
        path: &'static str,
        methods: &[&'static str],
        route: MethodRouter<WebState>,
    ) -> Self {
        self.table.extend(methods.iter().map(|m| (*m, path)));
        self.router = self.router.route(path, route);
        self
    }

    /// A page.
    pub(crate) fn get<T: 'static>(
        self,
        path: &'static str,
        handler: impl Handler<T, WebState>,
    ) -> Self {
        self.add(path, &["GET"], get(handler))
    }

    /// A form's action.
    pub(crate) fn post<T: 'static>(
        self,
        path: &'static str,
        handler: impl Handler<T, WebState>,
    ) -> Self {
        self.add(path, &["POST"], post(handler))
    }

    /// A page and the action of its form.
    pub(crate) fn page<TG: 'static, TP: 'static>(
        self,
        path: &'static str,
        page: impl Handler<TG, WebState>,
        action: impl Handler<TP, WebState>,
    ) -> Self {
        self.add(path, &["GET", "POST"], get(page).post(action))
    }
}
