"""The provider's wire format and action catalogue."""
