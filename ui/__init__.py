"""Streamlit drawing blocks and page plumbing that are not pages themselves: the workspace every page
shares, the page registry, charts and panels. ``pages/`` holds only the page scripts."""
