"""Every field of each Autotask entity the simulator serves, as the vendor's REST schema lists them.

A real tenant answers every field of an entity on every record (``null`` when empty), so the
simulator starts each record from these names. Source: the schema subset vendored in
``tests/conformance/specs/autotask.json`` (see the README there for its origin).
"""

from __future__ import annotations

from typing import Final

ENTITY_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "Companies": (
        "id", "additionalAddressInformation", "address1", "address2", "alternatePhone1",
        "alternatePhone2", "apiVendorID", "assetValue", "billToCompanyLocationID",
        "billToAdditionalAddressInformation", "billingAddress1", "billingAddress2",
        "billToAddressToUse", "billToAttention", "billToCity", "billToCountryID", "billToState",
        "billToZipCode", "city", "classification", "companyName", "companyNumber", "companyType",
        "competitorID", "countryID", "createDate", "createdByResourceID", "currencyID", "fax",
        "impersonatorCreatorResourceID", "invoiceEmailMessageID", "invoiceMethod",
        "invoiceNonContractItemsToParentCompany", "invoiceTemplateID", "isActive",
        "isClientPortalActive", "isEnabledForComanaged", "isTaskFireActive", "isTaxExempt",
        "lastActivityDate", "lastTrackedModifiedDateTime", "marketSegmentID", "ownerResourceID",
        "parentCompanyID", "phone", "postalCode", "purchaseOrderTemplateID",
        "quoteEmailMessageID", "quoteTemplateID", "sicCode", "state", "stockMarket",
        "stockSymbol", "surveyCompanyRating", "taxID", "taxRegionID", "territoryID", "webAddress",
        "userDefinedFields"
    ),
    "CompanyLocations": (
        "id", "address1", "address2", "alternatePhone1", "alternatePhone2", "city", "companyID",
        "countryID", "description", "fax", "isActive", "isPrimary", "isTaxExempt",
        "overrideCompanyTaxSettings", "name", "phone", "postalCode", "roundtripDistance", "state",
        "taxRegionID", "soapParentPropertyId", "userDefinedFields"
    ),
    "ConfigurationItems": (
        "id", "apiVendorID", "configurationItemCategoryID", "companyID", "companyLocationID",
        "configurationItemType", "contactID", "contractID", "contractServiceBundleID",
        "contractServiceID", "createDate", "createdByPersonID", "dailyCost",
        "dattoAvailableKilobytes", "dattoDeviceMemoryMegabytes", "dattoDrivesErrors",
        "dattoHostname", "dattoInternalIP", "dattoKernelVersionID", "dattoLastCheckInDateTime",
        "dattoNICSpeedKilobitsPerSecond", "dattoNumberOfAgents", "dattoNumberOfDrives",
        "dattoNumberOfVolumes", "dattoOffsiteUsedBytes", "dattoOSVersionID",
        "dattoPercentageUsed", "dattoProtectedKilobytes", "dattoRemoteIP", "dattoSerialNumber",
        "dattoUptimeSeconds", "dattoUsedKilobytes", "dattoZFSVersionID", "deviceNetworkingID",
        "domain", "domainRegistrarID", "domainRegistrationDateTime", "domainLastUpdatedDateTime",
        "domainExpirationDateTime", "hourlyCost", "impersonatorCreatorResourceID", "installDate",
        "installedByContactID", "installedByID", "isActive", "lastActivityPersonID",
        "lastActivityPersonType", "lastModifiedTime", "location", "monthlyCost", "notes",
        "numberOfUsers", "parentConfigurationItemID", "perUseCost", "productID",
        "referenceNumber", "referenceTitle", "rmmDeviceAuditAntivirusStatusID",
        "rmmDeviceAuditArchitectureID", "rmmDeviceAuditBackupStatusID",
        "rmmDeviceAuditDescription", "rmmDeviceAuditDeviceTypeID",
        "rmmDeviceAuditDisplayAdaptorID", "rmmDeviceAuditDomainID",
        "rmmDeviceAuditExternalIPAddress", "rmmDeviceAuditHostname", "rmmDeviceAuditIPAddress",
        "rmmDeviceAuditLastUser", "rmmDeviceAuditMacAddress", "rmmDeviceAuditManufacturerID",
        "rmmDeviceAuditMemoryBytes", "rmmDeviceAuditMissingPatchCount",
        "rmmDeviceAuditMobileNetworkOperatorID", "rmmDeviceAuditMobileNumber",
        "rmmDeviceAuditModelID", "rmmDeviceAuditMotherboardID", "rmmDeviceAuditOperatingSystem",
        "rmmDeviceAuditPatchStatusID", "rmmDeviceAuditProcessorID", "rmmDeviceAuditServicePackID",
        "rmmDeviceAuditSNMPContact", "rmmDeviceAuditSNMPLocation", "rmmDeviceAuditSNMPName",
        "rmmDeviceAuditSoftwareStatusID", "rmmDeviceAuditStorageBytes", "rmmDeviceID",
        "rmmDeviceUID", "rmmOpenAlertCount", "serialNumber", "serviceBundleID", "serviceID",
        "serviceLevelAgreementID", "setupFee", "sourceChargeID", "sourceChargeType", "sslSource",
        "sslCommonName", "sslValidFromDateTime", "sslValidUntilDateTime", "sslIssuedBy",
        "sslOrganization", "sslOrganizationUnit", "sslLocation", "sslSerialNumber",
        "sslSignatureAlgorithm", "vendorID", "warrantyExpirationDate", "userDefinedFields"
    ),
    "Contacts": (
        "id", "additionalAddressInformation", "addressLine", "addressLine1", "alternatePhone",
        "apiVendorID", "bulkEmailOptOutTime", "city", "companyID", "companyLocationID",
        "countryID", "createDate", "emailAddress", "emailAddress2", "emailAddress3", "extension",
        "externalID", "facebookUrl", "faxNumber", "firstName", "impersonatorCreatorResourceID",
        "isActive", "isOptedOutFromBulkEmail", "lastActivityDate", "lastModifiedDate", "lastName",
        "linkedInUrl", "middleInitial", "mobilePhone", "namePrefix", "nameSuffix", "note",
        "receivesEmailNotifications", "phone", "primaryContact", "roomNumber",
        "solicitationOptOut", "solicitationOptOutTime", "state", "surveyOptOut", "title",
        "twitterUrl", "zipCode", "soapParentPropertyId", "userDefinedFields"
    ),
    "Tickets": (
        "id", "apiVendorID", "assignedResourceID", "assignedResourceRoleID", "billingCodeID",
        "changeApprovalBoard", "changeApprovalStatus", "changeApprovalType", "changeInfoField1",
        "changeInfoField2", "changeInfoField3", "changeInfoField4", "changeInfoField5",
        "companyID", "companyLocationID", "completedByResourceID", "completedDate",
        "configurationItemID", "contactID", "contractID", "contractServiceBundleID",
        "contractServiceID", "createDate", "createdByContactID", "creatorResourceID",
        "creatorType", "currentServiceThermometerRating", "description", "dueDateTime",
        "estimatedHours", "externalID", "firstResponseAssignedResourceID",
        "firstResponseDateTime", "firstResponseDueDateTime", "firstResponseInitiatingResourceID",
        "hoursToBeScheduled", "impersonatorCreatorResourceID", "issueType", "lastActivityDate",
        "lastActivityPersonType", "lastActivityResourceID", "lastCustomerNotificationDateTime",
        "lastCustomerVisibleActivityDateTime", "lastTrackedModificationDateTime", "monitorID",
        "monitorTypeID", "opportunityID", "organizationalLevelAssociationID",
        "previousServiceThermometerRating", "priority", "problemTicketId", "projectID",
        "purchaseOrderNumber", "queueID", "resolution", "resolutionPlanDateTime",
        "resolutionPlanDueDateTime", "resolvedDateTime", "resolvedDueDateTime", "rmaStatus",
        "rmaType", "rmmAlertID", "serviceLevelAgreementHasBeenMet", "serviceLevelAgreementID",
        "serviceLevelAgreementPausedNextEventHours", "serviceThermometerTemperature", "source",
        "status", "subIssueType", "ticketCategory", "ticketNumber", "ticketType", "title",
        "userDefinedFields"
    ),
    "Countries": (
        "id", "addressFormatID", "countryCode", "displayName", "invoiceTemplateID", "isActive",
        "isDefaultCountry", "name", "purchaseOrderTemplateID", "quoteTemplateID",
        "userDefinedFields"
    ),
    "ConfigurationItemTypes": (
        "id", "isActive", "name", "userDefinedFields"
    ),
    "Products": (
        "id", "billingType", "chargeBillingCodeID", "defaultVendorID", "description",
        "doesNotRequireProcurement", "externalProductID", "impersonatorCreatorResourceID",
        "internalProductID", "isActive", "isEligibleForRma", "isSerialized", "link",
        "manufacturerName", "manufacturerProductName", "markupRate", "msrp", "name", "periodType",
        "priceCostMethod", "productBillingCodeID", "productCategory", "sku", "unitCost",
        "unitPrice", "vendorProductNumber", "defaultInstalledProductCategoryID",
        "userDefinedFields"
    ),
}
