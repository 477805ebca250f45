"""The web console (/ui/) and the offline assets of the API documentation (/docs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import swagger_ui_bundle
from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from mediavault.web import console, file_page

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


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["library_url"] = console.library_url
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def swagger_plugin() -> SwaggerRenderPlugin:
    """Swagger UI at /docs (and /docs/swagger), from this server's own files."""
    return SwaggerRenderPlugin(
        path=["/", "/swagger"],
        js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>",
    )
