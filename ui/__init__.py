"""Streamlit drawing blocks and page plumbing that are not pages themselves: who is signed in, plain messages,
the workspace every page shares (the selected patient), the page registry, charts and panels. ``pages/`` holds only
the page scripts."""
