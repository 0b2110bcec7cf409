"""The console's server side: page routes, the wall's tile feed and WebRTC live view.

The pages, scripts and styles themselves are static assets in the top-level ``web``
package, which holds no Python logic; this package serves them.
"""
