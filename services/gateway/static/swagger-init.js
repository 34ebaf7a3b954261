/* Starts Swagger UI on /docs. A file of its own, not inline, so that the page's
 * Content-Security-Policy can forbid inline script. The page names the OpenAPI document in
 * data-openapi-url. validatorUrl null: no badge fetched from the public validator. */
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
