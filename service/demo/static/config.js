// Where the BFF is, for app.js. "" means "the origin that served this page", which is how
// `looker-bff dev` serves the demo. `python -m service.demo --bff-url URL` serves the page
// from its own origin and answers this file with that URL instead.
window.LOOKER_BFF_URL = '';
