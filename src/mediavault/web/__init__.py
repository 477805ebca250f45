"""The web console (/ui/) and the offline assets of the API documentation (/docs)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import swagger_ui_bundle
from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.template import TemplateEngineProtocol
from litestar.template.config import TemplateConfig

from mediavault.web import console, file_page

if TYPE_CHECKING:
    from litestar.plugins.jinja import JinjaTemplateEngine
    from litestar.template.base import TemplateCallableType

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
DOCS_ASSETS = "/docs/assets"
# Swagger UI's files come from the swagger-ui-bundle package: /docs works without the internet.
SWAGGER_DIST = Path(swagger_ui_bundle.swagger_ui_path)


def route_handlers() -> list[Any]:
    return [
        console.root,
        Router(
            path=console.PREFIX,
            include_in_schema=False,
            response_headers=console.SECURITY_HEADERS,
            exception_handlers={console.SignInRequired: console.to_sign_in},
            route_handlers=[*console.HANDLERS, *file_page.HANDLERS],
        ),
        create_static_files_router(
            path=f"{console.PREFIX}/static",
            directories=[STATIC],
            name="ui-static",
            cache_control=CacheControlHeader(max_age=3600),
            include_in_schema=False,
        ),
        create_static_files_router(
            path=DOCS_ASSETS,
            directories=[SWAGGER_DIST],
            name="docs-assets",
            cache_control=CacheControlHeader(max_age=86400),
            include_in_schema=False,
        ),
    ]


class LazyJinjaEngine(TemplateEngineProtocol[Any, Mapping[str, Any]]):
    """The console's Jinja engine, built (Jinja2 imported, templates found) when the first
    page is rendered: Litestar takes the engine when the app is created, and most workers
    never render a page (Jinja2 is about 2 MB of every worker's memory, issue 11)."""

    def __init__(self, directory: Path | list[Path] | None = None, engine_instance: Any = None):
        self._engine: JinjaTemplateEngine | None = None
        self._callables: dict[str, Any] = {}

    @property
    def engine(self) -> JinjaTemplateEngine:
        if self._engine is None:
            import jinja2
            from litestar.plugins.jinja import JinjaTemplateEngine

            environment = jinja2.Environment(
                loader=jinja2.FileSystemLoader(TEMPLATES),
                autoescape=True,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            environment.filters["library_url"] = console.library_url
            engine = JinjaTemplateEngine.from_environment(environment)
            for key, template_callable in self._callables.items():
                engine.register_template_callable(key, template_callable)
            self._engine = engine
        return self._engine

    def get_template(self, template_name: str) -> Any:
        return self.engine.get_template(template_name)

    def render_string(self, template_string: str, context: Mapping[str, Any]) -> str:
        return self.engine.render_string(template_string, context)

    def register_template_callable(
        self, key: str, template_callable: TemplateCallableType[Mapping[str, Any], Any, Any]
    ) -> None:
        if self._engine is None:
            self._callables[key] = template_callable
        else:
            self._engine.register_template_callable(key, template_callable)


def template_config() -> TemplateConfig[LazyJinjaEngine]:
    return TemplateConfig(instance=LazyJinjaEngine())


def swagger_plugin() -> SwaggerRenderPlugin:
    """Swagger UI at /docs (and /docs/swagger), from this server's own files."""
    return SwaggerRenderPlugin(
        path=["/", "/swagger"],
        js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>",
    )
