// The API's documentation page: Swagger UI (served by this server) on /openapi.json.
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
