"""What goes in and out of the product: spreadsheet import, CSV exports, the PDF report."""
