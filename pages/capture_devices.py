"""Capture devices (admins): the cameras and trichoscopes whose close-ups are counted, each with the field of view
its close-ups cover in mm (which turns a hair count into hairs/cm²); add one, retire one.
"""

import streamlit as st

from tracker.records.capture_devices import add_device, list_devices, retire_device
from ui.messages import call, plain
from ui.signed_in import require_actor
from ui.typed_fields import decimal_field

FLASH = "devices_flash"

actor = require_actor()
st.header("Capture devices")
st.caption("A hair count on a close-up becomes a density through the device's field of view: hairs/cm² = hairs "
           "counted ÷ (width × height in mm ÷ 100). Take the field from the device's manual, or photograph a "
           "millimetre ruler with it and read the width and height of the whole frame.")
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH))

devices = call(list_devices, actor, include_retired=True)
if devices is None:
    st.stop()
if devices:
    st.dataframe([{"Device": d.name, "Field width (mm)": d.field_mm[0], "Field height (mm)": d.field_mm[1],
                   "Area (cm²)": round(d.field_mm[0] * d.field_mm[1] / 100, 3), "Added by": d.created_by or "",
                   "Status": f"retired {d.retired_at:%Y-%m-%d}" if d.retired_at else "in use"} for d in devices],
                 hide_index=True, key="devices_table")
else:
    st.info("No device yet: add the clinic's first one below, so that clinicians can count hairs on close-ups.")

st.subheader("Add a device")
with st.form("device_add", clear_on_submit=True):
    name = st.text_input("Name", key="device_name", max_chars=120,
                         help="As clinicians know it, e.g. the model and the room: Dermatoscope, room 2.")
    left, right = st.columns(2)
    width = decimal_field("Field width (mm)", "device_width", left, help="The width the whole close-up covers.")
    height = decimal_field("Field height (mm)", "device_height", right, help="The height the whole close-up covers.")
    add = st.form_submit_button("Add device", type="primary")
if add:
    added = call(add_device, actor, name, width, height)
    if added is not None:
        st.session_state[FLASH] = f"{plain(added.label)} is added."
        st.rerun()

in_use = [d for d in devices if d.retired_at is None]
if in_use:
    st.subheader("Retire a device")
    st.caption("A retired device is no longer offered for counting; the counts made with it keep its name and field.")
    chosen = st.selectbox("Device", in_use, format_func=lambda d: d.label, key="device_retire_choice")
    if st.button("Retire", key="device_retire") and chosen is not None:
        retired = call(retire_device, actor, chosen.id)
        if retired is not None:
            st.session_state[FLASH] = f"{plain(retired.name)} is retired."
            st.rerun()
