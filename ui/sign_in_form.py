"""The sign-in form as plain HTML, posted to the server's own route (``serve.py``), which sets the sign-in
cookie: the app's sign-in page draws it (``st.html``) and so does the route's page after a refusal.

Plain data only (no Streamlit): ``serve.py`` imports it while the server starts.
"""

from tracker.access.credentials import PASSWORD_MAX

SIGN_IN, SIGN_OUT, KEEP_ALIVE = "/auth/sign-in", "/auth/sign-out", "/auth/keep-alive"

_FIELD = "font:inherit;padding:.5rem;border:1px solid #c5ccd3;border-radius:.35rem"
_LABEL = "display:flex;flex-direction:column;gap:.3rem"
_FORM = "display:flex;flex-direction:column;gap:.8rem;max-width:24rem"
_BUTTON = "font:inherit;padding:.55rem;border:0;border-radius:.35rem;background:#2f6f8f;color:#fff;cursor:pointer"
SIGN_IN_FORM = f"""<form method="post" action="{SIGN_IN}" style="{_FORM}">
<label style="{_LABEL}">Username
<input name="username" type="text" autocomplete="username" maxlength="80" required style="{_FIELD}"></label>
<label style="{_LABEL}">Password
<input name="password" type="password" autocomplete="current-password" maxlength="{PASSWORD_MAX}" required \
style="{_FIELD}"></label>
<button type="submit" style="{_BUTTON}">Sign in</button>
</form>"""

