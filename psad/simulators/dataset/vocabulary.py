"""The set-up names every simulator shares: company statuses and types, asset types and
statuses, makers, contact types, titles, boards, ticket statuses and priorities."""

from __future__ import annotations

from typing import Final


COMPANY_STATUSES: Final = (
    ("Active", True, False),
    ("Inactive", False, True),
    ("Not Approved", False, False),
    ("Credit Hold", False, False),
    ("Imported", False, False),
)
COMPANY_TYPES: Final = ("Client", "Prospect", "Vendor", "Partner")
ASSET_TYPES: Final = (
    "Workstation", "Laptop", "Server", "Firewall", "Switch", "Printer", "Access Point", "NAS",
)
ASSET_STATUSES: Final = (
    "Active", "Active", "Active", "Active", "In Repair", "On Order", "Inactive", "Retired",
)
MANUFACTURERS: Final = (
    "Dell", "HP", "Lenovo", "Cisco", "Ubiquiti", "Fortinet", "Synology", "Brother", "Apple",
)
CONTACT_TYPES: Final = ("Technical", "Billing", "Decision Maker", "End User", "End User", "End User")
TITLES: Final = (
    "Office Manager", "IT Manager", "CFO", "CEO", "Operations Director", "Receptionist",
    "Practice Manager", "Accountant", "Engineer", "Sales Lead", "Paralegal", "HR Advisor",
)
BOARD_NAMES: Final = ("Help Desk", "Projects", "Network Ops", "Onboarding", "Alerts", "Procurement")
TICKET_STATUSES: Final = (
    ("New", False), ("In Progress", False), ("Waiting on Client", False),
    ("Scheduled", False), ("Resolved", True), (">Closed", True),
)
PRIORITIES: Final = (
    "Priority 1 - Emergency Response", "Priority 2 - Quick Response",
    "Priority 3 - Normal Response", "Priority 4 - Schedule Maintenance",
)
